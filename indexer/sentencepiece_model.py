"""The query tokenizer in sentencepiece's compact form, made from the model's tokenizer.json.

The model's own ``tokenizers`` Unigram tokenizer holds ~300 MB and takes ~1 s to load; the
same vocabulary, scores and normalisation map as a sentencepiece model take ~40 MB and a
fraction of that. The conversion is checked: both must give the same ids on the check texts
(they do on every question and passage of the report; they can differ on text mixing
Devanagari combining marks into other scripts, which a query here never needs).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from indexer.errors import EncoderLoadError


class TokenizerConversionError(EncoderLoadError):
    """tokenizer.json is not a Unigram tokenizer sentencepiece can reproduce."""


def _normalizers(spec: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not spec:
        return []
    return list(spec.get("normalizers", [spec])) if spec.get("type") == "Sequence" else [spec]


def write_sentencepiece_model(tokenizer_json: Path, out: Path) -> None:
    """Write the sentencepiece model equivalent of ``tokenizer_json`` (a Unigram tokenizer
    with a precompiled normalisation map and a Metaspace pre-tokenizer, as e5/XLM-R)."""
    from sentencepiece import sentencepiece_model_pb2

    pb: Any = sentencepiece_model_pb2

    spec = json.loads(Path(tokenizer_json).read_text(encoding="utf-8"))
    model = spec.get("model", {})
    if model.get("type") != "Unigram":
        raise TokenizerConversionError(f"{tokenizer_json}: not a Unigram tokenizer")
    charsmaps = [
        n["precompiled_charsmap"]
        for n in _normalizers(spec.get("normalizer"))
        if n.get("type") == "Precompiled"
    ]
    if (spec.get("pre_tokenizer") or {}).get("type") != "Metaspace" or len(charsmaps) != 1:
        raise TokenizerConversionError(f"{tokenizer_json}: unsupported normaliser or pre-tokenizer")
    special = {t["content"] for t in spec.get("added_tokens", []) if t.get("special")}
    unk_id = int(model["unk_id"])
    proto = pb.ModelProto()
    ids: dict[str, int] = {}
    for row, (piece, score) in enumerate(model["vocab"]):
        entry = proto.pieces.add()
        entry.piece, entry.score = piece, float(score)
        if row == unk_id:
            entry.type = pb.ModelProto.SentencePiece.UNKNOWN
        elif piece in special:
            entry.type = pb.ModelProto.SentencePiece.CONTROL
        else:
            entry.type = pb.ModelProto.SentencePiece.NORMAL
        ids[piece] = row
    trainer = proto.trainer_spec
    trainer.model_type = pb.TrainerSpec.UNIGRAM
    trainer.vocab_size = len(model["vocab"])
    trainer.unk_id = unk_id
    trainer.bos_id = ids.get("<s>", -1)
    trainer.eos_id = ids.get("</s>", -1)
    trainer.pad_id = ids.get("<pad>", -1)
    normalizer = proto.normalizer_spec
    normalizer.name = "identity"
    normalizer.precompiled_charsmap = base64.b64decode(charsmaps[0])
    normalizer.add_dummy_prefix = True
    normalizer.remove_extra_whitespaces = True
    normalizer.escape_whitespaces = True
    Path(out).write_bytes(proto.SerializeToString())


def check_same_ids(tokenizer_json: Path, sentencepiece_model: Path, texts: Iterable[str]) -> None:
    """Raise TokenizerConversionError unless both tokenizers give the same ids for ``texts``
    (whitespace-normalised, as the service normalises queries)."""
    import sentencepiece
    from tokenizers import Tokenizer

    reference = Tokenizer.from_file(str(tokenizer_json))
    reference.no_truncation()
    compact = sentencepiece.SentencePieceProcessor(model_file=str(sentencepiece_model))
    for text in texts:
        text = " ".join(text.split())
        expected = reference.encode(text, add_special_tokens=False).ids
        if compact.encode(text) != expected:
            raise TokenizerConversionError(
                f"the sentencepiece form of {tokenizer_json} tokenises {text[:40]!r} differently"
            )
