"""The job bodies, one module per job: ``enroll`` (and ``consent``, its check), ``plan`` (a
batch's source into items), ``render`` (claim, render, cache, deliver), ``finish`` (an item's
end and what it sets off), ``stream`` (a speech stream's render), ``sweep``, ``purge`` and
``finetune``. ``worker.tasks`` wraps each in a Celery task.

State lives in the database rows: a job claims its row, does the work, and records the
outcome on the row. Writes are idempotent (deterministic storage keys, checksums), so a
redelivered task never leaves a duplicate. Bad input fails the row and is not retried
(``errors``); transient storage/database errors propagate so the task layer retries them.
"""
