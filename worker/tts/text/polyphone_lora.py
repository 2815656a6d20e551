"""LoRA adapters for the polyphone model: a tenant's corrections, learned in context.

A lexicon entry fixes one word everywhere it appears; an adapter learns how a
character is read *in the contexts reviewers corrected*, so the same character inside
new sentences is read the corrected way too. Training mixes the corrections with
replayed base examples (the sentences' readings as the frontend gives them today) so
the adapter does not drift on everything else; the evaluation gate in
``worker/finetune.py`` then decides whether to promote it.
"""

from __future__ import annotations

import copy
import io
import random
from dataclasses import dataclass

import torch
from peft import LoraConfig, get_peft_model, get_peft_model_state_dict, set_peft_model_state_dict
from torch import nn

from worker.tts.text.polyphone_model import PolyphoneModel, Query

TARGETS = ["embedding", "logit_layer.0", "logit_layer.2"]


@dataclass(frozen=True)
class Example:
    """``sentence[index]`` is read ``reading`` (tone-numbered pinyin)."""

    sentence: str
    index: int
    reading: str

    @property
    def query(self) -> Query:
        return Query(self.sentence, self.index)


@dataclass(frozen=True)
class TrainConfig:
    rank: int = 8
    alpha: int = 16
    steps: int = 300  # a fixed number of updates, however few corrections there are
    lr: float = 5e-3
    batch: int = 64
    correction_weight: float = 4.0  # corrections are few; replay keeps the rest in place
    seed: int = 0
    device: str = "cpu"  # "cuda" on a GPU worker (worker.devices); the adapter comes back on the CPU


def lora_config(config: TrainConfig) -> LoraConfig:
    return LoraConfig(r=config.rank, lora_alpha=config.alpha, target_modules=TARGETS, lora_dropout=0.0)


def trainable_examples(model: PolyphoneModel, examples: list[Example]) -> list[Example]:
    """Only examples the network can learn: a polyphonic character and a reading it allows."""
    return [e for e in examples if e.reading in model.readings(e.sentence[e.index])]


def train_adapter(model: PolyphoneModel, corrections: list[Example], replay: list[Example],
                  config: TrainConfig = TrainConfig()) -> nn.Module:
    """A peft-wrapped copy of the network with LoRA weights fitted to the examples."""
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    net = get_peft_model(copy.deepcopy(model.net), lora_config(config)).to(config.device)
    corrections, replay = trainable_examples(model, corrections), trainable_examples(model, replay)
    data = [(e, config.correction_weight) for e in corrections] + [(e, 1.0) for e in replay]
    if not data:
        raise ValueError("no trainable examples: nothing to learn")
    optimizer = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=config.lr)
    net.train()
    for _ in range(config.steps):
        chunk = rng.sample(data, min(config.batch, len(data)))
        logits = model.logits([e.query for e, _ in chunk], net)
        target = torch.tensor([model.class_index[e.reading] for e, _ in chunk], device=config.device)
        weight = torch.tensor([w for _, w in chunk], device=config.device)
        loss = (nn.functional.cross_entropy(logits, target, reduction="none") * weight).sum() / weight.sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return net.to("cpu").eval()


def adapter_bytes(net: nn.Module, config: TrainConfig = TrainConfig()) -> bytes:
    """Only the LoRA weights (a few KB) and the settings needed to rebuild them."""
    buffer = io.BytesIO()
    torch.save({"rank": config.rank, "alpha": config.alpha,
                "state": get_peft_model_state_dict(net)}, buffer)  # type: ignore[arg-type]
    return buffer.getvalue()


def with_adapter(model: PolyphoneModel, data: bytes) -> PolyphoneModel:
    """The base model with a stored adapter merged in; the base is left untouched."""
    saved = torch.load(io.BytesIO(data), weights_only=True)
    config = TrainConfig(rank=saved["rank"], alpha=saved["alpha"])
    net = get_peft_model(copy.deepcopy(model.net), lora_config(config))
    set_peft_model_state_dict(net, saved["state"])
    return model.with_net(net.merge_and_unload().eval())


def accuracy(model: PolyphoneModel, examples: list[Example]) -> float:
    """Share of examples read as expected (1.0 for an empty set: nothing to get wrong)."""
    if not examples:
        return 1.0
    predicted = model.predict([e.query for e in examples])
    return sum(p == e.reading for p, e in zip(predicted, examples)) / len(examples)
