"""The readiness probe on the running app: every dependency answers, or the probe names the one
that does not (by the kind of its failure, never its message) and answers 503, without raising."""

from __future__ import annotations

from tests.support import devservices


def test_readiness_names_each_dependency_and_answers_200_when_all_answer(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"status": "ready",
                                   "checks": {"database": "ok", "storage": "ok", "broker": "ok"}}


def test_a_dead_storage_makes_the_service_unready_and_the_others_still_report(settings) -> None:  # type: ignore[no-untyped-def]
    from worker.cli.serve import make_api

    dead = settings.with_(s3_endpoint_url=f"http://127.0.0.1:{devservices.free_port()}")
    response = make_api(dead).test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok" and body["checks"]["broker"] == "ok"
    assert body["checks"]["storage"].startswith("error: "), body
