"""Model packages: a model's files plus a manifest, stored content-addressed; and the predictor a load returns.

Logging a model serializes it through its flavor, infers the signature from the input example, reads the
requirements from the live environment (installed versions of the distributions its classes come from; no
subprocess), stores every file under its digest, then the manifest's canonical JSON, whose digest names the
package. Loading reads the manifest (re-hashed), lets the loader guard approve the format, and verifies every
file it hands the flavor. Loaded models are kept in a small per-client cache keyed by package digest: a
package never changes, so the cache can never serve stale bytes.
"""

from __future__ import annotations

import collections
import io
import platform
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import blake3
import orjson
from pydantic import ValidationError

from modelyard._environment import distributions_of, environment_digest, installed_version
from modelyard.errors import IntegrityError, InvalidInputError, NotFoundError, UnsafeModelError
from modelyard.ids import Digest, RunId
from modelyard.registry.flavors.base import NativeModel, Saved
from modelyard.registry.loading import Loaders, VerifiedFiles, check_file_names
from modelyard.registry.models import (
    FileSpec,
    ModelInfo,
    ModelVersion,
    NewPackage,
    PackageManifest,
    Representation,
    Signature,
    TrustGrant,
)
from modelyard.registry.signatures import example_rows, infer_signature, prepare
from modelyard.stores.protocols import ArtifactStore, MetadataStore

__all__ = ["EXAMPLE_FILE", "Packages", "Predictor"]

EXAMPLE_FILE = "input_example.json"
_CACHE_SIZE = 16
_ONNX_TOLERANCE = 1e-4


class Predictor:
    """A loaded model: ``predict`` (and ``predict_proba`` where the flavor has it) with signature checks.

    Input may be a pandas or polars DataFrame, a pyarrow Table, a numpy array, a list of records or a dict of
    columns; it is validated against the signature (missing or extra columns, wrong types) before the model
    sees it. ``model`` is the underlying library object.
    """

    def __init__(self, native: NativeModel, manifest: PackageManifest, digest: Digest, version: ModelVersion | None):
        self.model = native
        self.manifest = manifest
        self.digest = digest
        self.version = version

    def __repr__(self) -> str:
        where = self.version.ref if self.version else self.digest.short
        return f"<modelyard.Predictor {where} flavor={self.manifest.flavor} class={self.manifest.model_class}>"

    @property
    def signature(self) -> Signature | None:
        """What the model takes and returns."""
        return self.manifest.signature

    @property
    def flavor(self) -> str:
        """The model's flavor."""
        return self.manifest.flavor

    def predict(self, data: object) -> Any:
        """Predict on ``data`` after checking it against the signature."""
        return self.model.predict(prepare(data, self.signature))

    def predict_proba(self, data: object) -> Any:
        """Class probabilities, for flavors and models that have them."""
        method = getattr(self.model, "predict_proba", None)
        if "predict_proba" not in self.manifest.methods or not callable(method):
            raise InvalidInputError(
                f"A {self.manifest.model_class} has no predict_proba.", hint="Call predict instead."
            )
        return method(prepare(data, self.signature))


def _canonical(manifest: PackageManifest) -> bytes:
    return orjson.dumps(manifest.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)


class Packages:
    """Log, read and load model packages over one pair of stores."""

    def __init__(self, metadata: MetadataStore, artifacts: ArtifactStore, loaders: Loaders) -> None:
        self._metadata = metadata
        self._artifacts = artifacts
        self.loaders = loaders
        self._cache: collections.OrderedDict[tuple[Digest, str | None], NativeModel] = collections.OrderedDict()
        self._lock = threading.Lock()

    # -- logging ---------------------------------------------------------------------------------------------
    def log(
        self,
        model: object,
        *,
        run_id: RunId | None,
        name: str,
        flavor: str | None = None,
        signature: Signature | None = None,
        input_example: object | None = None,
        requirements: Sequence[str] | None = None,
        trusted: bool = False,
        onnx: bool = False,
        actor: str | None = None,
    ) -> ModelInfo:
        """Serialize, describe and store ``model``; return what was stored."""
        chosen, saved = self.loaders.save(model, flavor=flavor, trusted=trusted, example=input_example)
        files = dict(saved.files)
        if input_example is not None:
            files[EXAMPLE_FILE] = orjson.dumps(example_rows(input_example), option=orjson.OPT_SERIALIZE_NUMPY)
            if signature is None:
                signature = infer_signature(input_example, _predict_example(model, input_example))
        rep_files, rep = self._onnx(model, saved, input_example, signature) if onnx else ({}, None)
        specs = {file: self._put(data) for file, data in {**files, **rep_files}.items()}
        if rep is not None:
            rep = rep.model_copy(update={"files": {k: specs[k] for k in rep_files}})
        manifest = PackageManifest(
            flavor=chosen.name,
            format=saved.format,
            model_class=saved.model_class,
            methods=saved.methods,  # type: ignore[arg-type]
            files={k: specs[k] for k in files},
            signature=signature,
            input_example=EXAMPLE_FILE if input_example is not None else None,
            requirements=_requirements(saved, chosen.distributions) if requirements is None else tuple(requirements),
            python_version=platform.python_version(),
            environment_digest=environment_digest(),
            options=saved.options,
            representations=() if rep is None else (rep,),
        )
        body = _canonical(manifest)
        digest = self._artifacts.put(io.BytesIO(body)).digest
        size = sum(spec.size_bytes for spec in specs.values()) + len(body)
        now = int(time.time() * 1000)
        self._metadata.packages.add(
            NewPackage(
                digest=digest,
                manifest_json=body.decode(),
                flavor=chosen.name,
                size_bytes=size,
                created_ms=now,
                run_id=run_id,
                name=name,
            )
        )
        if trusted:
            self.trust(digest, actor=actor, reason="trusted=True when the model was logged")
        return ModelInfo(
            run_id=run_id,
            name=name,
            digest=digest,
            flavor=chosen.name,
            format=saved.format,
            model_class=saved.model_class,
            signature=signature,
            requirements=manifest.requirements,
            size_bytes=size,
            representations=tuple(r.format for r in manifest.representations),
        )

    def _put(self, data: bytes) -> FileSpec:
        stored = self._artifacts.put(io.BytesIO(data))
        return FileSpec(digest=str(stored.digest), size_bytes=stored.size_bytes)

    def _onnx(
        self, model: object, saved: Saved, example: object | None, signature: Signature | None
    ) -> tuple[dict[str, bytes], Representation]:
        from modelyard.registry.flavors import onnx as onnx_flavor

        if example is None or not saved.model_class.startswith("sklearn."):
            raise InvalidInputError(
                "The ONNX form is made from scikit-learn models with an input example.",
                hint="Pass input_example=... (a few rows of training data), or leave onnx=False.",
            )
        data = onnx_flavor.export_sklearn(model, example)
        rep = Representation(flavor="onnx", format="onnx", files={}, tolerance=_ONNX_TOLERANCE)
        manifest = PackageManifest(
            flavor="onnx", format="onnx", model_class="onnx.ModelProto", files={}, python_version="", signature=None
        )
        files = {"model.onnx": data}
        native = self.loaders.load(
            VerifiedFiles(
                manifest,
                flavor="onnx",
                format="onnx",
                files={
                    "model.onnx": FileSpec(digest=f"blake3:{blake3.blake3(data).hexdigest()}", size_bytes=len(data))
                },
                fetch=lambda _spec, name: files[name],
                trusted=False,
            ),
            what="the ONNX form",
        )
        prepared = prepare(example, signature)
        method = "predict_proba" if hasattr(model, "predict_proba") and hasattr(native, "predict_proba") else "predict"
        difference = onnx_flavor.parity(getattr(model, method)(prepared), getattr(native, method)(prepared))
        if difference > _ONNX_TOLERANCE:
            raise InvalidInputError(
                f"The ONNX form of this model disagrees with it on the input example ({method}: max difference "
                f"{difference:.3g} > {_ONNX_TOLERANCE}); it was not stored.",
                hint="Log the model without onnx=True; the native form serves it.",
            )
        return files, rep.model_copy(update={"max_abs_difference": difference})

    def trust(self, digest: Digest, *, actor: str | None, reason: str | None) -> TrustGrant:
        """Trust one package (by digest) to use a code-executing format or types outside the safe list."""
        manifest = self.manifest(digest)
        grant = TrustGrant(package=digest, format=manifest.format, actor=actor, reason=reason, at=datetime.now(UTC))
        self._metadata.packages.trust(grant)
        return grant

    # -- reading ---------------------------------------------------------------------------------------------
    def manifest(self, digest: Digest) -> PackageManifest:
        """The manifest of a package, re-hashed against its digest and validated."""
        text = self._metadata.packages.get(digest)
        if blake3.blake3(text.encode()).hexdigest() != digest.hex:
            raise IntegrityError(
                f"The stored manifest of package {digest} does not match its digest.",
                hint="Run `modelyard fsck`; log the model again.",
            )
        try:
            manifest = PackageManifest.model_validate_json(text)
        except ValidationError as exc:
            raise UnsafeModelError(
                f"Package {digest.short} has an invalid manifest: {exc.errors()[0]['msg']} at "
                f"{'.'.join(str(p) for p in exc.errors()[0]['loc'])}. Nothing was loaded.",
                hint="Manifests name a flavor, a format and files only; log the model again.",
            ) from exc
        check_file_names(manifest.files)
        return manifest

    def load(
        self,
        digest: Digest,
        *,
        representation: str | None = None,
        version: ModelVersion | None = None,
        cache: bool = True,
    ) -> Predictor:
        """Load a package (or its ``representation``, e.g. ``"onnx"``) through the loader guard."""
        manifest = self.manifest(digest)
        key = (digest, representation)
        with self._lock:
            native = self._cache.get(key) if cache else None
            if native is not None:
                self._cache.move_to_end(key)
        if native is None:
            native = self._load_native(digest, manifest, representation, version)
            with self._lock:
                self._cache[key] = native
                while len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
        return Predictor(native, manifest, digest, version)

    def _load_native(
        self, digest: Digest, manifest: PackageManifest, representation: str | None, version: ModelVersion | None
    ) -> NativeModel:
        flavor, fmt, files = manifest.flavor, manifest.format, manifest.files
        if representation is not None:
            reps = {r.format: r for r in manifest.representations}
            if representation not in reps:
                raise NotFoundError(
                    f"Package {digest.short} has no {representation!r} form (it has {sorted(reps) or 'none'}).",
                    hint="Log the model with onnx=True to add the ONNX form.",
                )
            flavor, fmt, files = reps[representation].flavor, reps[representation].format, reps[representation].files
        check_file_names(files)
        what = f"Model {version.ref}" if version else f"Package {digest.short}"
        grant = self._metadata.packages.find_trust(digest)
        verified = VerifiedFiles(
            manifest, flavor=flavor, format=fmt, files=files, fetch=self.read_file, trusted=grant is not None
        )
        return self.loaders.load(verified, what=what)

    def read_file(self, spec: FileSpec, name: str) -> bytes:
        """One file of a package, verified against its digest and size."""
        with self._artifacts.open(Digest.parse(spec.digest)) as handle:
            data = handle.read()
        if len(data) != spec.size_bytes:
            raise IntegrityError(
                f"Package file {name!r} has {len(data)} bytes, its manifest says {spec.size_bytes}.",
                hint="Run `modelyard fsck`.",
            )
        return data

    def example(self, digest: Digest) -> list[Any]:
        """The stored input example of a package (records or nested lists), or an empty list."""
        manifest = self.manifest(digest)
        if manifest.input_example is None:
            return []
        rows: list[Any] = orjson.loads(self.read_file(manifest.files[manifest.input_example], manifest.input_example))
        return rows


def _predict_example(model: object, example: object) -> object | None:
    predict = getattr(model, "predict", None)
    if not callable(predict):
        return None
    try:
        output: object = predict(example)
    except Exception as exc:  # the user's model: any failure on its own example is worth reporting as is
        raise InvalidInputError(
            f"The model failed to predict on its input example: {type(exc).__name__}: {exc}.",
            hint="Pass an input example the model accepts (a few rows of its training data).",
        ) from exc
    return output


def _requirements(saved: Saved, distributions: Sequence[str]) -> tuple[str, ...]:
    found = distributions_of(saved.modules)
    for dist in distributions:
        version = installed_version(dist)
        if version is not None:
            found.setdefault(dist, version)
    return tuple(f"{name}=={version}" for name, version in sorted(found.items()))
