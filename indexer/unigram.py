"""sentencepiece's Unigram encoder in Python, from a compact form that loads in ~0.1 s.

``SentencePieceProcessor`` spends 0.4-1 s (holding the GIL) building a double-array trie of
the e5 tokenizer's 250,002 pieces before it encodes anything, and USE's 128,000 take
0.1-0.4 s more; a query is ~30 characters. This encoder keeps the pieces in a dictionary
read from a compact file (:meth:`UnigramTokenizer.save`, written by ``shisaku index`` from
the ``.model`` file), normalises text with sentencepiece's own normaliser (built from the
model's normaliser spec alone: no trie of pieces) and runs sentencepiece's Viterbi search
(``unigram_model.cc``, ``Model::EncodeOptimized``, sentencepiece 0.2):

* every piece that starts at a character is a candidate for the best path ending where the
  piece ends, visited by start, then by length, as the trie visits them, and scored
  ``piece score + best score to its start`` in float32 arithmetic; it replaces the best
  only if strictly better;
* a start where no one-character piece matches gets the unknown piece over that character,
  scored ``min normal score - 10``; a run of unknown pieces comes out as one;
* unused, control and unknown pieces never match; a text that holds a user-defined piece
  (USE's "extra_token_id_N"; e5 has none) is encoded by sentencepiece itself, loaded on
  first need: ties on paths through one are broken in a way this does not reproduce.

The ids are sentencepiece's on every input tried: ``tests/test_serving_forms.py`` compares
them on the report's passages, the question sets and random text in many scripts (with
unknown characters and ties), and ``shisaku index`` checks them before it keeps a compact
form.
"""

from __future__ import annotations

import array
import json
import os
import struct
import sys
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from indexer.errors import EncoderLoadError

UNKNOWN_PENALTY = 10.0  # sentencepiece's kUnkPenalty
FLT_MIN = 1.1754943508222875e-38  # sentencepiece's initial max_score_
FORMAT = 3  # of the compact form: its files are named and headed with it
MAGIC = b"shisaku-unigram %d\n" % FORMAT
_F32 = struct.Struct("<f")
_SEPARATOR = "\0"
SPACE = "\u2581"  # sentencepiece's whitespace mark


class UnigramModelError(EncoderLoadError):
    """The file is unreadable or uses a feature this encoder does not reproduce."""


def _f32(value: float) -> float:
    """``value`` rounded to the nearest float32, as a Python float."""
    return float(_F32.unpack(_F32.pack(value))[0])


class UnigramTokenizer:
    """Encode text to ids exactly as ``SentencePieceProcessor(model_file=...).encode``."""

    def __init__(
        self,
        pieces: dict[str, int],
        scores: Sequence[float],
        longest: dict[str, int],
        unk_id: int,
        unk_score: float,
        normalizer_spec: bytes,
        vocab_size: int,
        bos_id: int = -1,
        eos_id: int = -1,
        bounded: bool = False,
        user_defined: tuple[str, ...] = (),
        reference: Path | None = None,
    ) -> None:
        import sentencepiece

        self._ids = pieces  # matchable piece -> id
        # id -> score (a float32 value; 0.0 for unmatchable ids), unboxed: 8 bytes an id,
        # not a float object each (~6 MB less for e5's 250,002 pieces)
        self._scores = array.array("d", scores)
        self._longest = longest  # first character -> longest matchable piece starting with it
        self.unk_id = unk_id
        self._unk_score = unk_score  # a float32 value
        self._normalizer_spec = normalizer_spec
        self._normalizer = sentencepiece.SentencePieceNormalizer(normalizer_spec=normalizer_spec)
        self.vocab_size = vocab_size
        self.bos_id, self.eos_id = bos_id, eos_id
        # Whether no piece holds the space mark past its first character (true of models
        # trained with split_by_whitespace, e5's and USE's): a piece then ends at the next one.
        self._bounded = bounded
        # Ties between paths through a user-defined piece are not always broken as
        # sentencepiece breaks them: given ``reference`` (the .model file), a text holding
        # one is encoded by sentencepiece itself, loaded on first need (USE's three
        # "extra_token_id_N"; e5 has none).
        self.user_defined = user_defined
        self._reference_path = reference
        self._reference: Any = None
        self._reference_lock = threading.Lock()

    # ---- from the .model file (protobuf), once, at index time ---------------------------

    @classmethod
    def from_model(cls, path: Path) -> UnigramTokenizer:
        """Read a sentencepiece ``.model`` file (~0.3 s for 250,000 pieces)."""
        import sentencepiece
        from sentencepiece import sentencepiece_model_pb2

        pb: Any = sentencepiece_model_pb2
        proto = pb.ModelProto()
        try:
            proto.ParseFromString(Path(path).read_bytes())
        except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError or an OSError
            raise UnigramModelError(f"{path} is unreadable ({exc})") from None
        trainer = proto.trainer_spec
        if trainer.model_type != pb.TrainerSpec.UNIGRAM:
            raise UnigramModelError(f"{path} is not a Unigram model")
        if trainer.byte_fallback or trainer.treat_whitespace_as_suffix:
            raise UnigramModelError(f"{path}: byte fallback and suffix whitespace are unsupported")
        kinds = pb.ModelProto.SentencePiece
        normal_scores = [p.score for p in proto.pieces if p.type == kinds.NORMAL]
        if not normal_scores:
            raise UnigramModelError(f"{path}: no normal pieces")
        max_score = max([FLT_MIN, *normal_scores])
        pieces: dict[str, int] = {}
        scores = [0.0] * len(proto.pieces)
        user_defined: list[str] = []
        unk_id = -1
        for index, piece in enumerate(proto.pieces):
            kind, text = piece.type, piece.piece
            if kind == kinds.UNKNOWN:
                unk_id = index
                continue
            if kind == kinds.CONTROL or kind == kinds.UNUSED:
                continue  # never matched (unused pieces are in the trie but skipped)
            if kind not in (kinds.NORMAL, kinds.USER_DEFINED):
                raise UnigramModelError(f"{path}: piece type {kind} is unsupported")
            if text in pieces or not text or _SEPARATOR in text:
                raise UnigramModelError(f"{path}: piece {text!r} is empty, repeated or has NUL")
            pieces[text] = index
            if kind == kinds.USER_DEFINED:
                length = _f32(float(len(text.encode("utf-8"))))
                scores[index] = _f32(_f32(length * max_score) - _f32(0.1))
                user_defined.append(text)
            else:
                scores[index] = float(piece.score)
        if unk_id < 0:
            raise UnigramModelError(f"{path}: no unknown piece")
        longest: dict[str, int] = {}
        for text in pieces:
            if len(text) > longest.get(text[0], 0):
                longest[text[0]] = len(text)
        spec = proto.normalizer_spec.SerializeToString()
        # sentencepiece copies user-defined symbols through its normaliser unchanged; the
        # normaliser alone (no symbols) must leave them unchanged too.
        normalizer = sentencepiece.SentencePieceNormalizer(normalizer_spec=spec)
        for text in user_defined:
            if normalizer.normalize(text).lstrip("\u2581") != text:
                raise UnigramModelError(f"{path}: user-defined piece {text!r} is normalised")
        return cls(
            pieces,
            scores,
            longest,
            unk_id,
            _f32(min(normal_scores) - UNKNOWN_PENALTY),
            spec,
            len(proto.pieces),
            int(trainer.bos_id),
            int(trainer.eos_id),
            not any(SPACE in text[1:] for text in pieces),
            tuple(user_defined),
            Path(path),
        )

    # ---- the compact form -----------------------------------------------------------------

    def save(self, path: Path, source_sha256: str) -> None:
        """Write the compact form atomically; ``source_sha256`` names the .model file."""
        texts = list(self._ids)
        blob = _SEPARATOR.join(texts).encode("utf-8")
        ids = array.array("i", (self._ids[t] for t in texts))
        scores = array.array("d", self._scores)
        if sys.byteorder != "little":
            ids.byteswap()
            scores.byteswap()
        header = {
            "source_sha256": source_sha256,
            "vocab_size": self.vocab_size,
            "unk_id": self.unk_id,
            "unk_score": self._unk_score,
            "bos_id": self.bos_id,
            "eos_id": self.eos_id,
            "bounded": self._bounded,
            "user_defined": list(self.user_defined),
            "pieces": len(texts),
            "blob_bytes": len(blob),
            "normalizer_bytes": len(self._normalizer_spec),
            "longest": self._longest,
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with temporary.open("wb") as out:
            out.write(MAGIC)
            out.write(json.dumps(header, ensure_ascii=False).encode("utf-8") + b"\n")
            out.write(ids.tobytes())
            out.write(scores.tobytes())
            out.write(blob)
            out.write(self._normalizer_spec)
        temporary.replace(path)

    @classmethod
    def load(
        cls, path: Path, source_sha256: str | None = None, reference: Path | None = None
    ) -> UnigramTokenizer:
        """Read a compact form (~0.1 s); UnigramModelError if it is unreadable or, given
        ``source_sha256``, was made from another .model file. ``reference``: that .model
        file, for the texts that hold a user-defined piece."""
        try:
            data = Path(path).read_bytes()
            if not data.startswith(MAGIC):
                raise ValueError("not a compact Unigram tokenizer")
            end = data.index(b"\n", len(MAGIC))
            header = json.loads(data[len(MAGIC) : end])
            if source_sha256 is not None and header["source_sha256"] != source_sha256:
                raise ValueError("made from another tokenizer")
            count, vocab = int(header["pieces"]), int(header["vocab_size"])
            offset = end + 1
            ids = array.array("i")
            ids.frombytes(data[offset : offset + 4 * count])
            offset += 4 * count
            scores = array.array("d")
            scores.frombytes(data[offset : offset + 8 * vocab])
            offset += 8 * vocab
            if sys.byteorder != "little":
                ids.byteswap()
                scores.byteswap()
            blob = data[offset : offset + int(header["blob_bytes"])].decode("utf-8")
            offset += int(header["blob_bytes"])
            spec = data[offset : offset + int(header["normalizer_bytes"])]
            texts = blob.split(_SEPARATOR)
            if (
                len(texts) != count
                or len(ids) != count
                or len(scores) != vocab
                or len(spec) != int(header["normalizer_bytes"])
                or offset + len(spec) != len(data)
            ):
                raise ValueError("truncated or too long")
            longest = {str(k): int(v) for k, v in header["longest"].items()}
            return cls(
                dict(zip(texts, ids.tolist(), strict=True)),
                scores,
                longest,
                int(header["unk_id"]),
                float(header["unk_score"]),
                spec,
                vocab,
                int(header["bos_id"]),
                int(header["eos_id"]),
                bool(header["bounded"]),
                tuple(str(t) for t in header["user_defined"]),
                reference,
            )
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            # RuntimeError: sentencepiece refused the normaliser spec
            raise UnigramModelError(f"{path} is not usable ({exc})") from None

    # ---- encoding ---------------------------------------------------------------------------

    def _by_reference(self, text: str) -> list[int]:
        with self._reference_lock:
            if self._reference is None:
                import sentencepiece

                model = str(self._reference_path)
                self._reference = sentencepiece.SentencePieceProcessor(model_file=model)
        return list(self._reference.encode(text))

    def _encode_one(self, text: str) -> list[int]:
        normalized = self._normalizer.normalize(text)
        if (
            self.user_defined
            and self._reference_path is not None
            and any(piece in normalized for piece in self.user_defined)
        ):
            return self._by_reference(text)
        size = len(normalized)
        ids, scores, longest = self._ids, self._scores, self._longest
        unk_score, unk_id = self._unk_score, self.unk_id
        # the best path over normalized[:end]: its score, last piece's start and id
        best_score = [0.0] * (size + 1)
        best_start = [-1] * (size + 1)
        best_id = [0] * (size + 1)
        bounded = self._bounded
        for start in range(size):
            till_here = best_score[start]
            reach = min(size, start + longest.get(normalized[start], 0))
            if bounded:  # no piece has a space mark past its first character
                stop = normalized.find(SPACE, start + 1, reach)
                if stop >= 0:
                    reach = stop
            single = False
            for end in range(start + 1, reach + 1):
                piece_id = ids.get(normalized[start:end])
                if piece_id is None:
                    continue
                if end == start + 1:
                    single = True
                candidate = scores[piece_id] + till_here
                if best_start[end] < 0 or candidate > best_score[end]:
                    rounded = _f32(candidate)  # the sum is exact in a double: round it once
                    if best_start[end] < 0 or rounded > best_score[end]:
                        best_score[end] = rounded
                        best_start[end], best_id[end] = start, piece_id
            if not single:
                candidate = _f32(unk_score + till_here)
                if best_start[start + 1] < 0 or candidate > best_score[start + 1]:
                    best_score[start + 1] = candidate
                    best_start[start + 1], best_id[start + 1] = start, unk_id
        out: list[int] = []
        end = size
        while end > 0:
            piece_id = best_id[end]
            if piece_id != unk_id or not out or out[-1] != unk_id:
                out.append(piece_id)  # a run of unknown pieces is one unknown piece
            end = best_start[end]
        out.reverse()
        return out

    def encode(self, texts: Iterable[str] | str) -> Any:
        """Ids of a text, or of each text of a list (no <s> or </s>), as
        ``SentencePieceProcessor.encode``."""
        if isinstance(texts, str):
            return self._encode_one(texts)
        return [self._encode_one(text) for text in texts]


def check_same_ids(tokenizer: UnigramTokenizer, model_file: Path, texts: Iterable[str]) -> None:
    """Raise UnigramModelError unless ``tokenizer`` gives sentencepiece's ids for ``texts``."""
    import sentencepiece

    reference = sentencepiece.SentencePieceProcessor(model_file=str(model_file))
    for text in texts:
        if tokenizer.encode(text) != reference.encode(text):
            raise UnigramModelError(
                f"{model_file}: the compact form tokenises {text[:40]!r} differently"
            )
