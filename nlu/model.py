"""The built-in NLU: train on Rasa-format data, save, load, and parse a message into a ``ParsedMessage``.

Theory of operation:

- **Training** (``train``) reads ``content/nlu/`` (``nlu.data``), learns the language identifier
  (``nlu.lang``) on every example, and the intent classifier on TF-IDF features (``nlu.features``)
  of the examples plus seeded augmented variants (``nlu.augment``). The classifier is a linear SVM;
  its scores become probabilities through a softmax with a temperature. The temperature and the
  confidence threshold are chosen on a stratified dev split of the *training* data (never on the
  held-out set), in a forked child while the final model is fitted on all of it (``_beside``).
- **Parsing** (``NLUModel.parse``) never touches scikit-learn: the weights are a dense
  ``(features, intents)`` matrix, and a message's score is a handful of row lookups and a dot
  product, well under a millisecond. A message whose best intent is below the threshold, or is
  ``out_of_scope`` itself, or that holds nothing the model knows (``Featurizer.read``), parses as
  ``out_of_scope`` so that the engine falls back.
- **Payloads**: ``/intent`` (a button) is that intent with confidence 1.0 when the intent exists;
  any other text starting with ``/`` is ``out_of_scope`` with confidence 0.
- **Staleness**: the saved file records a hash of the training files; ``load_or_train`` retrains
  when it differs, so a changed example never runs against an old model.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import pickle
import random
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final, TypeVar
from zoneinfo import ZoneInfo

import numpy as np

from flows.model import OUT_OF_SCOPE, IntentScore, ParsedMessage
from nlu.augment import variants
from nlu.data import Example, TrainingData, read_path
from nlu.entities import extract
from nlu.errors import ModelFileError, NLUError
from nlu.features import Analysed, Corpus, Featurizer, Vocabulary, analyze
from nlu.lang import LanguageIdentifier

logger = logging.getLogger(__name__)

MODEL_FORMAT: Final = 3
"""Bump when the saved state's shape or the features change: older files then count as stale."""
HELSINKI: Final = ZoneInfo("Europe/Helsinki")
AUGMENTED_VARIANTS: Final = 1
AUGMENTED_WEIGHT: Final = 0.5
SVM_C: Final = 0.5
SVM_MAX_ITER: Final = 12
"""liblinear's passes over the data. It reaches tol 1e-2 in ~22 on our data, but after 12 the
decision values move by under 0.02 and 3 argmaxes of 33,000 training rows change (the held-out
figures do not), while the last ten passes cost 3 s of the 30 s that ``opastin nlu train`` may take."""
DEV_FRACTION: Final = 0.2
FALLBACK_COST: Final = 0.75
"""How much worse than a right answer a needless "could you rephrase" is, relative to a wrong answer (1).

Not much cheaper: the customer loses the turn either way (a wrong flow is left with one "back").
At 0.5 the cost curve is flat over a wide range, and a few hundred new examples moved the chosen
threshold from 0.34 to 0.48–0.54 (four dev-split seeds), costing three points of accuracy on new
phrasings; at 0.75 the same seeds choose 0.24–0.35."""
NEAR_DUPLICATE: Final = 0.6
"""Cosine similarity above which a training example counts as a twin of a dev example."""
SPLIT_SEED: Final = 20251
RANKING_SIZE: Final = 10
_SIMILARITY_CHUNK: Final = 4096
_T = TypeVar("_T")

Progress = Callable[[str, float], None]
"""``progress(stage, fraction_done)``: for a progress bar; fraction in 0..1."""


def _no_progress(stage: str, fraction: float) -> None:
    del stage, fraction


@dataclass(frozen=True, slots=True)
class Calibration:
    """Turning scores into a decision: ``softmax(scores / temperature)``, fall back below ``threshold``."""

    temperature: float
    threshold: float


class NLUModel:
    """A trained NLU: language identifier, featurizer, linear weights and calibration."""

    def __init__(
        self,
        *,
        intents: Sequence[str],
        featurizer: Featurizer,
        weights: np.ndarray,
        bias: np.ndarray,
        calibration: Calibration,
        language_identifier: LanguageIdentifier,
        data_hash: str,
        metrics: dict[str, float] | None = None,
    ) -> None:
        self.intents = tuple(intents)
        self._intent_set = frozenset(self.intents)
        self.featurizer = featurizer
        self.weights = weights
        """(features, intents) float32."""
        self.bias = bias
        self.calibration = calibration
        self.language_identifier = language_identifier
        self.data_hash = data_hash
        self.metrics = dict(metrics or {})
        """Figures measured while training (dev-split accuracy, sizes, seconds)."""

    def parse(self, text: str, lang_hint: str | None = None, now: datetime | None = None) -> ParsedMessage:
        """What the customer said: intent with calibrated confidence, ranking, entities, language.

        Args:
            text: the message as received.
            lang_hint: the conversation's language; it sticks unless the text is clearly another.
            now: the current instant for resolving dates; defaults to the wall clock in Helsinki.
        """
        stripped = text.strip()
        if not stripped:
            return ParsedMessage(text=text, language=lang_hint)
        if stripped.startswith("/"):
            return self._payload(text, stripped, lang_hint)
        language = self.language_identifier.identify(text, lang_hint)
        when = now if now is not None else datetime.now(HELSINKI)
        entities = extract(text, when, language or lang_hint)
        idx, vals, familiar = self.featurizer.read(text, language or lang_hint)
        if not familiar:
            # Nothing in the message is known: any ranking would be noise (and the engine offers
            # the flows of a ranking as buttons), so the parse is plainly out of scope.
            score = IntentScore(name=OUT_OF_SCOPE, confidence=1.0)
            return ParsedMessage(
                text=text, intent=OUT_OF_SCOPE, confidence=1.0, ranking=(score,), entities=entities, language=language
            )
        probabilities = self._calibrated(idx, vals)
        order = np.argsort(-probabilities)[:RANKING_SIZE]
        ranking = tuple(IntentScore(name=self.intents[i], confidence=float(probabilities[i])) for i in order)
        best = ranking[0]
        if best.name != OUT_OF_SCOPE and best.confidence < self.calibration.threshold:
            # Not sure enough: the engine's fallback is better than a wrong flow. The confidence
            # is then the chance that the best guess is wrong.
            intent, confidence = OUT_OF_SCOPE, 1.0 - best.confidence
        else:
            intent, confidence = best.name, best.confidence
        return ParsedMessage(
            text=text,
            intent=intent,
            confidence=confidence,
            ranking=ranking,
            entities=entities,
            language=language,
        )

    def probabilities(self, text: str, language: str | None) -> np.ndarray:
        """Calibrated P(intent | text) in ``self.intents`` order."""
        return self._calibrated(*self.featurizer.vector(text, language))

    def _calibrated(self, idx: np.ndarray, vals: np.ndarray) -> np.ndarray:
        scores = vals @ self.weights[idx] + self.bias if len(idx) else self.bias.copy()
        return _softmax(scores / self.calibration.temperature)

    def _payload(self, text: str, stripped: str, lang_hint: str | None) -> ParsedMessage:
        name = stripped[1:].split("{", 1)[0].strip()
        if name in self._intent_set:
            score = IntentScore(name=name, confidence=1.0)
            return ParsedMessage(text=text, intent=name, confidence=1.0, ranking=(score,), language=lang_hint)
        return ParsedMessage(text=text, intent=OUT_OF_SCOPE, confidence=0.0, language=lang_hint)

    # ----------------------------------------------------------------------------------------------
    # Persistence

    def save(self, path: Path | str) -> None:
        """Write the model as plain data (numpy arrays, lists, dicts) atomically."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        state = {
            "format": MODEL_FORMAT,
            "data_hash": self.data_hash,
            "intents": list(self.intents),
            "featurizer": self.featurizer.state(),
            "weights": self.weights,
            "bias": self.bias,
            "calibration": {"temperature": self.calibration.temperature, "threshold": self.calibration.threshold},
            "language_identifier": self.language_identifier.state(),
            "metrics": self.metrics,
        }
        partial = target.with_name(target.name + ".tmp")
        with partial.open("wb") as f:
            pickle.dump(state, f, protocol=pickle.HIGHEST_PROTOCOL)
        partial.replace(target)


def load(path: Path | str) -> NLUModel:
    """Load a model saved by ``NLUModel.save``.

    Raises:
        ModelFileError: the file is missing, unreadable or of another format version.
    """
    state = _read_state(Path(path))
    calibration = state["calibration"]
    return NLUModel(
        intents=state["intents"],
        featurizer=Featurizer.from_state(state["featurizer"]),
        weights=state["weights"],
        bias=state["bias"],
        calibration=Calibration(temperature=calibration["temperature"], threshold=calibration["threshold"]),
        language_identifier=LanguageIdentifier.from_state(state["language_identifier"]),
        data_hash=state["data_hash"],
        metrics=state.get("metrics"),
    )


def _read_state(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            # Our own file, written by save(); a model path is configuration, not user input.
            state = pickle.load(f)
    except FileNotFoundError:
        raise ModelFileError(str(path), "no model file") from None
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
        raise ModelFileError(str(path), f"unreadable model file ({exc.__class__.__name__})") from None
    if not isinstance(state, dict) or state.get("format") != MODEL_FORMAT:
        found = state.get("format") if isinstance(state, dict) else None
        raise ModelFileError(str(path), f"model format {found!r}, expected {MODEL_FORMAT}")
    return state


def data_hash(data_dir: Path | str) -> str:
    """A hash of every training file's relative path and bytes, and of the model format."""
    root = Path(data_dir)
    digest = hashlib.sha256(f"format={MODEL_FORMAT}\n".encode())
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.suffix in (".yml", ".yaml"))
    for file in files:
        digest.update(str(file.relative_to(root) if file != root else file.name).encode())
        digest.update(b"\0")
        digest.update(file.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def is_stale(model_path: Path | str, data_dir: Path | str) -> bool:
    """True when the model file is missing, unreadable, or trained on other data."""
    try:
        state = _read_state(Path(model_path))
    except ModelFileError:
        return True
    return bool(state["data_hash"] != data_hash(data_dir))


def load_or_train(data_dir: Path | str, model_path: Path | str, progress: Progress = _no_progress) -> NLUModel:
    """The saved model if it matches the data; otherwise train, save and return a new one."""
    current = data_hash(data_dir)
    try:
        model = load(model_path)
    except ModelFileError as exc:
        logger.info("NLU model not usable (%s); training", exc.reason)
    else:
        if model.data_hash == current:
            return model
        logger.info("NLU model is stale (training data changed); retraining")
    model = train(data_dir, progress=progress)
    model.save(model_path)
    return model


# --------------------------------------------------------------------------------------------------
# Training


def train(data_dir: Path | str, progress: Progress = _no_progress) -> NLUModel:
    """Train on every Rasa NLU file under ``data_dir`` (or one file).

    Raises:
        TrainingDataError: the data has mistakes (every one, with file:line).
        NLUError: fewer than two intents to tell apart.
    """
    progress("reading data", 0.0)
    data = read_path(data_dir)
    if len(data.intents) < 2:
        raise NLUError(f"{data_dir}: need examples of at least two intents, found {len(data.intents)}")
    return train_on(data, data_hash(data_dir), progress)


def train_on(data: TrainingData, digest: str, progress: Progress = _no_progress) -> NLUModel:
    """Train on data already read: ``train`` for a folder, ``bench/nlu_cv.py`` for each fold."""
    started = time.perf_counter()
    vocabulary = Vocabulary.from_data(data)
    intents = data.intents

    progress("augmenting and featurizing", 0.05)
    corpus, rows = _featurize_examples(
        data, vocabulary, lambda f: progress("augmenting and featurizing", 0.05 + 0.5 * f)
    )

    progress("fitting the model; calibrating on a dev split", 0.55)
    dev = _dev_split(data.examples)
    dev_rows = [rows[i] for i in sorted(dev)]
    rest = [r for i, r in enumerate(rows) if i not in dev]

    def identify_and_calibrate() -> tuple[LanguageIdentifier, tuple[Calibration, dict[str, float]]]:
        # The language identifier rides along: the two sides then take about as long each.
        identifier = LanguageIdentifier.train((e.text, e.language) for e in data.examples if e.language)
        kept = _without_near_duplicates(corpus, rest, dev_rows, vocabulary)
        return identifier, _calibrate(corpus, kept, dev_rows, vocabulary, intents)

    beside = _beside(identify_and_calibrate)
    featurizer, weights, bias = _fit(corpus, rows, vocabulary, intents)
    progress("fitting the model; calibrating on a dev split", 0.85)
    identifier, (calibration, dev_metrics) = beside()
    elapsed = time.perf_counter() - started
    progress("done", 1.0)
    metrics = {
        **dev_metrics,
        "examples": float(len(data.examples)),
        "features": float(featurizer.size),
        "train_seconds": elapsed,
    }
    logger.info("NLU trained: %d intents, %d examples, %.1f s", len(intents), len(data.examples), elapsed)
    return NLUModel(
        intents=intents,
        featurizer=featurizer,
        weights=weights,
        bias=bias,
        calibration=calibration,
        language_identifier=identifier,
        data_hash=digest,
        metrics=metrics,
    )


@dataclass(frozen=True, slots=True)
class _Row:
    """One example: where its text and its augmented variants are in the training ``Corpus``."""

    intent: str
    language: str | None
    original: int
    augmented: tuple[int, ...]


def _featurize_examples(
    data: TrainingData, vocabulary: Vocabulary, progress: Callable[[float], None]
) -> tuple[Corpus, list[_Row]]:
    """Every example and its augmented variants, analysed into one corpus: half in a forked child."""
    examples = data.examples
    half = len(examples) // 2
    second = _beside(lambda: _analyse(examples[half:], vocabulary, lambda fraction: None))
    first_corpus, first_counts = _analyse(examples[:half], vocabulary, progress)
    second_corpus, second_counts = second()
    rows: list[_Row] = []
    start = 0
    for example, count in zip(examples, (*first_counts, *second_counts), strict=True):
        rows.append(_Row(example.intent, example.language, start, tuple(range(start + 1, start + count))))
        start += count
    return Corpus.joined(first_corpus, second_corpus), rows


def _analyse(
    examples: Sequence[Example], vocabulary: Vocabulary, progress: Callable[[float], None]
) -> tuple[Corpus, list[int]]:
    """The examples' texts and variants as a corpus, and how many texts each example has there."""
    analysed: list[Analysed] = []
    counts: list[int] = []
    total = max(1, len(examples))
    for i, example in enumerate(examples):
        texts = [example.text, *variants(example.text, example.language, AUGMENTED_VARIANTS)]
        analysed.extend(analyze(t, example.language, vocabulary) for t in texts)
        counts.append(len(texts))
        if i % 200 == 0:
            progress(i / total)
    return Corpus(analysed), counts


def _beside(work: Callable[[], _T]) -> Callable[[], _T]:
    """Start ``work`` in a forked child process; the function returned waits for its result.

    ``opastin nlu train`` must stay under 30 s on two cores, so half of the analysis, and then the
    calibration beside the final fit (~15 s each side), run in a child. Threads
    cannot: the analysis holds the GIL, and liblinear draws from the C library's global
    ``rand()``, so two fits at once would make the model depend on timing. A forked child has its
    own ``rand()``, shares the corpus without copying it, and sends back only its result. It does
    nothing but compute and write to its pipe, so the threads of the parent (a progress bar, a
    server) that it does not inherit do not matter.
    Without fork (Windows, macOS's default is spawn) the work runs in this process when awaited.
    """
    if "fork" not in multiprocessing.get_all_start_methods():
        return work
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)

    def run() -> None:
        try:
            sender.send((True, work()))
        except BaseException:  # reported to the parent, which raises it
            sender.send((False, traceback.format_exc()))
        finally:
            sender.close()

    child = context.Process(target=run, name="opastin-nlu-training", daemon=True)
    child.start()
    sender.close()

    def result() -> _T:
        try:
            ok, value = receiver.recv()
        except EOFError:
            value, ok = f"the process ended with exit code {child.exitcode} before answering", False
        finally:
            receiver.close()
            child.join()
        if not ok:
            raise NLUError(f"NLU training failed in its child process: {value}")
        result_value: _T = value
        return result_value

    return result


def _dev_split(examples: Sequence[Example]) -> set[int]:
    """Indices of a seeded, stratified (language, intent) fifth of the examples."""
    groups: dict[tuple[str | None, str], list[int]] = {}
    for i, example in enumerate(examples):
        groups.setdefault((example.language, example.intent), []).append(i)
    dev: set[int] = set()
    for (language, intent), members in groups.items():
        # A generator per group: new examples of one intent must not reshuffle every other's split.
        rng = random.Random(f"{SPLIT_SEED}:{language}:{intent}")
        if len(members) >= 3:
            dev.update(rng.sample(members, max(1, round(len(members) * DEV_FRACTION))))
    return dev


def _without_near_duplicates(
    corpus: Corpus, train_rows: Sequence[_Row], dev_rows: Sequence[_Row], vocabulary: Vocabulary
) -> list[_Row]:
    """``train_rows`` minus those nearly identical to a dev example.

    Writers vary their own sentences ("muistuta mua huomenna", "muistuta minua huomenna"); with
    such twins on both sides, the dev split would measure recall of the training data, and the
    temperature and threshold chosen on it would be too trusting for messages that are new.
    """
    closest = closest_similarity(
        corpus,
        [(r.original, r.language) for r in train_rows],
        [(r.original, r.language) for r in dev_rows],
        vocabulary,
    )
    return [row for row, similarity in zip(train_rows, closest, strict=True) if similarity < NEAR_DUPLICATE]


def closest_similarity(
    corpus: Corpus,
    rows: Sequence[tuple[int, str | None]],
    others: Sequence[tuple[int, str | None]],
    vocabulary: Vocabulary,
) -> np.ndarray:
    """For each of ``rows`` (text in ``corpus``, language), its greatest cosine similarity to one of ``others``.

    Used to leave out twins, here and in ``bench/nlu_cv.py``. Only within a language: twins across
    languages do not occur, and the product of all rows with all others is the slowest step of
    training (three times the work, over 10 s on our data).
    """
    featurizer = Featurizer.fit(corpus, vocabulary, members=[text for text, _ in (*rows, *others)])
    closest = np.zeros(len(rows), dtype=np.float32)
    for language in {language for _, language in rows}:
        mine = [i for i, (_, lang) in enumerate(rows) if lang == language]
        theirs = [text for text, lang in others if lang == language]
        if not theirs:
            continue
        matrix = featurizer.transform(corpus, [rows[i][0] for i in mine])
        others_t = featurizer.transform(corpus, theirs).T.tocsr()
        for start in range(0, len(mine), _SIMILARITY_CHUNK):
            # Dense, chunk by chunk: nearly every pair shares a 2-gram, and the sparse max would
            # spend as long sorting the product's indices as the product itself took.
            similarity = (matrix[start : start + _SIMILARITY_CHUNK] @ others_t).toarray()
            # Each group is L2-normalised, so a row's squared norm is the number of groups it has (2).
            closest[mine[start : start + _SIMILARITY_CHUNK]] = similarity.max(axis=1) / len(featurizer.group_weights)
    return closest


def _fit(
    corpus: Corpus, rows: Sequence[_Row], vocabulary: Vocabulary, intents: Sequence[str]
) -> tuple[Featurizer, np.ndarray, np.ndarray]:
    members: list[int] = []
    labels: list[str] = []
    weights: list[float] = []
    for row in rows:
        members.append(row.original)
        labels.append(row.intent)
        weights.append(1.0)
        for variant in row.augmented:
            members.append(variant)
            labels.append(row.intent)
            weights.append(AUGMENTED_WEIGHT)
    # Imported here: scikit-learn costs ~100 MB and 2 s to import, and parsing never needs it.
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    featurizer = Featurizer.fit(corpus, vocabulary, members=members)
    matrix = featurizer.transform(corpus, members)
    # tol 1e-2 instead of 1e-4: the same predictions on our data in 60 % of the time.
    svm = LinearSVC(C=SVM_C, tol=1e-2, max_iter=SVM_MAX_ITER, random_state=0)
    with warnings.catch_warnings():
        # Stopping at SVM_MAX_ITER is the intent (see there), not a failure to report on every training.
        warnings.simplefilter("ignore", ConvergenceWarning)
        svm.fit(matrix, labels, sample_weight=weights)
    order = [list(svm.classes_).index(intent) for intent in intents]
    coef = np.asarray(svm.coef_, dtype=np.float32)[order]
    bias = np.asarray(svm.intercept_, dtype=np.float32)[order]
    return featurizer, np.ascontiguousarray(coef.T), bias


def _calibrate(
    corpus: Corpus, train_rows: Sequence[_Row], dev_rows: Sequence[_Row], vocabulary: Vocabulary, intents: Sequence[str]
) -> tuple[Calibration, dict[str, float]]:
    """Pick the temperature (least dev log-loss) and the threshold (best dev accuracy with fallback)."""
    featurizer, weights, bias = _fit(corpus, train_rows, vocabulary, intents)
    matrix = featurizer.transform(corpus, [r.original for r in dev_rows])
    scores = np.asarray(matrix @ weights) + bias
    truth = np.array([intents.index(r.intent) for r in dev_rows])
    temperature = min(
        (float(t) for t in np.geomspace(0.02, 2.0, 60)),
        key=lambda t: _log_loss(_softmax(scores / t), truth),
    )
    probabilities = _softmax(scores / temperature)
    best = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    oos = intents.index(OUT_OF_SCOPE) if OUT_OF_SCOPE in intents else -1

    is_oos = truth == oos

    def accuracy(threshold: float) -> float:
        predicted = np.where(confidence < threshold, oos, best)
        return float((predicted == truth).mean())

    def cost(threshold: float) -> float:
        # A wrong answer starts the wrong flow: cost 1. Falling back on a message we could have
        # answered only asks the customer to rephrase: cost FALLBACK_COST. Right answers and
        # fallbacks on out-of-scope messages cost nothing.
        predicted = np.where(confidence < threshold, oos, best)
        wrong = (predicted != truth) & (predicted != oos)
        needless_fallback = (predicted == oos) & ~is_oos
        return float(wrong.sum() + FALLBACK_COST * needless_fallback.sum())

    candidates = [float(t) for t in np.arange(0.0, 0.9, 0.01)]
    threshold = min(candidates, key=lambda t: (cost(t), t)) if oos >= 0 else 0.0
    chosen = np.where(confidence < threshold, oos, best)
    metrics = {
        "dev_accuracy": accuracy(threshold),
        "dev_accuracy_no_threshold": float((best == truth).mean()),
        "dev_out_of_scope_recall": float((chosen[is_oos] == oos).mean()) if is_oos.any() else 1.0,
        "dev_in_scope_accuracy": float((chosen[~is_oos] == truth[~is_oos]).mean()) if (~is_oos).any() else 1.0,
        "temperature": temperature,
        "threshold": threshold,
    }
    return Calibration(temperature=temperature, threshold=threshold), metrics


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    result: np.ndarray = exp / exp.sum(axis=-1, keepdims=True)
    return result


def _log_loss(probabilities: np.ndarray, truth: np.ndarray) -> float:
    picked = probabilities[np.arange(len(truth)), truth]
    return float(-np.log(np.clip(picked, 1e-12, 1.0)).mean())
