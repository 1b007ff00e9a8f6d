"""A tiny ONNX sentence-embedding model built at test time (no download).

``model.onnx`` looks up one row of a fixed table per token (``last_hidden_state``,
``(batch, tokens, dim)``), as a transformer export does with its token states;
``tokenizer.json`` is a lower-casing WordLevel tokenizer over a handful of words.
The encoder under test mean-pools the rows over the attention mask and L2-normalizes.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from tests.conftest import skip_or_fail

WORDS = (
    "book",
    "a",
    "flight",
    "to",
    "paris",
    "plane",
    "ticket",
    "play",
    "some",
    "music",
    "song",
    "jazz",
    "weather",
    "rain",
    "today",
)
DIM = 6


def require_onnx() -> None:
    for module in ("onnx", "onnxruntime", "tokenizers"):
        if importlib.util.find_spec(module) is None:
            skip_or_fail(f"{module} (dev and `.[advanced]` extras) is not installed")


def token_table() -> np.ndarray:
    """Row 0 is [UNK], row 1 [PAD]; travel, music and weather words point three
    different ways, so sentences about one topic embed close together."""
    rng = np.random.default_rng(3)
    table = rng.normal(scale=0.05, size=(len(WORDS) + 2, DIM)).astype(np.float32)
    topics = {
        "travel": ("book", "flight", "to", "paris", "plane", "ticket"),
        "music": ("play", "some", "music", "song", "jazz"),
        "weather": ("weather", "rain", "today"),
    }
    for axis, words in enumerate(topics.values()):
        for word in words:
            table[WORDS.index(word) + 2, axis] += 1.0
    return table


def build_onnx_encoder(
    directory: Path, *, table: np.ndarray | None = None, mask_output: bool = False
) -> Path:
    """``mask_output`` lists the attention mask as the model's first output, as
    some exports list extra tensors before the token states."""
    require_onnx()
    import onnx
    import tokenizers
    from onnx import TensorProto, helper, numpy_helper

    directory.mkdir(parents=True, exist_ok=True)
    weights = token_table() if table is None else table
    nodes = [helper.make_node("Gather", ["table", "input_ids"], ["hidden"], axis=0)]
    outputs = [
        helper.make_tensor_value_info(
            "hidden", TensorProto.FLOAT, ["b", "s", weights.shape[1]]
        )
    ]
    if mask_output:
        nodes.append(helper.make_node("Identity", ["attention_mask"], ["mask"]))
        outputs.insert(
            0, helper.make_tensor_value_info("mask", TensorProto.INT64, ["b", "s"])
        )
    graph = helper.make_graph(
        nodes=nodes,
        name="tiny-encoder",
        inputs=[
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", "s"]),
            helper.make_tensor_value_info(
                "attention_mask", TensorProto.INT64, ["b", "s"]
            ),
        ],
        outputs=outputs,
        initializer=[numpy_helper.from_array(weights, name="table")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(directory / "model.onnx"))

    vocab = {"[UNK]": 0, "[PAD]": 1} | {w: i + 2 for i, w in enumerate(WORDS)}
    tokenizer = tokenizers.Tokenizer(
        tokenizers.models.WordLevel(vocab=vocab, unk_token="[UNK]")
    )
    tokenizer.normalizer = tokenizers.normalizers.Lowercase()
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tokenizer.save(str(directory / "tokenizer.json"))
    return directory


def expected_vector(text: str, table: np.ndarray | None = None) -> np.ndarray:
    """What mean pooling + L2 norm give for ``text`` (words split on spaces)."""
    weights = token_table() if table is None else table
    rows = [
        weights[WORDS.index(w) + 2 if w in WORDS else 0] for w in text.lower().split()
    ]
    mean = np.mean(rows, axis=0)
    return (mean / np.linalg.norm(mean)).astype(np.float32)


@contextmanager
def tiny_encoder_registered(directory: Path) -> Iterator[Path]:
    """A studio with one ONNX encoder, "tiny", for English (and the default of
    English projects); the engine's registry is restored afterwards."""
    from training.engine import embeddings

    saved = dict(embeddings._registry), dict(embeddings._encoders)
    build_onnx_encoder(directory)
    embeddings.configure_encoders(
        {"tiny": {"path": str(directory), "languages": ["en"], "defaultFor": ["en"]}}
    )
    try:
        yield directory
    finally:
        embeddings._registry.clear()
        embeddings._registry.update(saved[0])
        embeddings._encoders.clear()
        embeddings._encoders.update(saved[1])
