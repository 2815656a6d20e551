"""A trainable Mandarin polyphone model in torch.

The weights are g2pM's (a character BiLSTM trained on the CPP polyphone benchmark,
shipped inside its PyPI wheel as numpy arrays); here they live in a torch module so a
tenant's corrections can be learned as a LoRA adapter on top of them (see
``worker/tts/text/polyphone_lora.py``). Unlike g2pM itself, a prediction is restricted to
the readings the dictionary allows for that character: the network only chooses among
them, so it can never invent a reading a character does not have.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from importlib import resources
from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

UNK, BOS, EOS = "<UNK>", "시", "끝"  # g2pM's own sentence-boundary tokens


class PolyphoneNet(nn.Module):
    """Character embedding → one-layer BiLSTM → two-layer classifier over all readings."""

    def __init__(self, vocab: int, classes: int, embed: int = 64, hidden: int = 32) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, embed, padding_idx=0)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True, bidirectional=True)
        self.logit_layer = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, classes))

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Logits for one position per row: ids [B, T], lengths [B], targets [B] → [B, classes]."""
        packed = pack_padded_sequence(self.embedding(ids), lengths.cpu(), batch_first=True, enforce_sorted=False)
        hidden, _ = pad_packed_sequence(self.lstm(packed)[0], batch_first=True)
        return self.logit_layer(hidden[torch.arange(len(targets)), targets])


@dataclass(frozen=True)
class Query:
    """One polyphonic character to read: ``sentence[index]``."""

    sentence: str
    index: int


def _pinyin(reading: str) -> str:
    """CEDICT writes ü as ``u:``; the frontend (like pypinyin's TONE3) writes ``v``."""
    return reading.replace("u:", "v")


class PolyphoneModel:
    """The network plus its vocabularies: sentences and positions in, readings out."""

    def __init__(self, net: PolyphoneNet, char2idx: dict[str, int], classes: list[str],
                 dictionary: dict[str, list[str]]) -> None:
        self.net = net.eval()
        self.char2idx = char2idx
        self.classes = classes
        self.class_index = {c: i for i, c in enumerate(classes)}
        self.dictionary = dictionary

    @classmethod
    def bundled(cls) -> PolyphoneModel:
        """The g2pM weights, read from the installed wheel (no download)."""
        package = resources.files("g2pM")

        def load(name: str) -> Any:
            return pickle.loads(package.joinpath(name).read_bytes())

        state = {k: torch.from_numpy(v) for k, v in load("np_ckpt.pkl").items()}
        class2idx: dict[str, int] = load("class2idx.pkl")
        classes = [_pinyin(c) for c, _ in sorted(class2idx.items(), key=lambda kv: kv[1])]
        char2idx: dict[str, int] = load("char2idx.pkl")
        net = PolyphoneNet(len(char2idx), len(classes))
        net.load_state_dict(state)
        dictionary = {char: [_pinyin(r) for r in readings] for char, readings in load("digest_cedict.pkl").items()}
        return cls(net, char2idx, classes, dictionary)

    def readings(self, char: str) -> list[str]:
        """The dictionary's readings for a character that the network can choose among."""
        return [r for r in self.dictionary.get(char, []) if r in self.class_index]

    def is_polyphone(self, char: str) -> bool:
        return len(self.readings(char)) > 1

    def encode(self, queries: list[Query]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Padded ids, lengths, target positions and the mask of allowed readings."""
        unk = self.char2idx[UNK]
        rows = [[self.char2idx[BOS], *(self.char2idx.get(c, unk) for c in q.sentence), self.char2idx[EOS]]
                for q in queries]
        ids = torch.zeros(len(rows), max(map(len, rows)), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
        lengths = torch.tensor([len(r) for r in rows])
        targets = torch.tensor([q.index + 1 for q in queries])  # +1 for BOS
        allowed = torch.zeros(len(queries), len(self.classes), dtype=torch.bool)
        for i, q in enumerate(queries):
            for reading in self.readings(q.sentence[q.index]) or self.classes:
                allowed[i, self.class_index[reading]] = True
        return ids, lengths, targets, allowed

    def logits(self, queries: list[Query], net: nn.Module | None = None) -> torch.Tensor:
        """Masked logits: readings the character cannot have are −inf."""
        ids, lengths, targets, allowed = self.encode(queries)
        net = net or self.net
        device = next(net.parameters()).device  # the CPU, or CUDA while a GPU worker fine-tunes
        if device.type != "cpu":
            ids, targets, allowed = ids.to(device), targets.to(device), allowed.to(device)
        raw = net(ids, lengths, targets)
        return raw.masked_fill(~allowed, float("-inf"))

    @torch.inference_mode()
    def predict(self, queries: list[Query]) -> list[str]:
        if not queries:
            return []
        return [self.classes[int(i)] for i in self.logits(queries).argmax(dim=1)]

    def with_net(self, net: nn.Module) -> PolyphoneModel:
        """The same vocabularies around another network (a base with an adapter merged in)."""
        return PolyphoneModel(net, self.char2idx, self.classes, self.dictionary)  # type: ignore[arg-type]


@dataclass(frozen=True)
class LearnedPolyphones:
    """A tenant's promoted adapter as the frontend uses it: only the characters its
    corrections taught are read by the adapted model; everything else keeps the
    frontend's own rules, so an adapter cannot disturb what it never learned."""

    model: PolyphoneModel
    chars: frozenset[str]
    version: int

    def read(self, sentence: str, positions: list[int]) -> list[str]:
        return self.model.predict([Query(sentence, i) for i in positions])
