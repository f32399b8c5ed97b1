"""The one loader registry and its one guard: every model package is loaded through ``Loaders.load``.

``Loaders.register`` is the only way a flavor becomes loadable, and ``Loaders.load`` checks policy before a
flavor sees a single byte: the flavor must be registered, the format must be one the flavor declares, and a
code-executing format (pickle) needs a trust grant bound to the package's digest. File names come from the
manifest and are checked by the path chokepoint; bytes are verified against their digests on every read.
A test enumerates this registry and fails when a flavor has no malicious-artifact case.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from modelyard.errors import ConfigError, InvalidInputError, NotFoundError, UnsafeModelError, close_matches
from modelyard.registry.flavors.base import Flavor, NativeModel, Saved
from modelyard.registry.models import FileSpec, PackageManifest
from modelyard.stores.paths import clean_relpath

__all__ = ["Loaders", "VerifiedFiles"]


class VerifiedFiles:
    """The files of a package handed to a flavor: names must be in the manifest, bytes must match digests."""

    def __init__(
        self,
        manifest: PackageManifest,
        *,
        flavor: str,
        format: str,
        files: Mapping[str, FileSpec],
        fetch: Callable[[FileSpec, str], bytes],
        trusted: bool,
    ) -> None:
        self._manifest = manifest
        self._flavor = flavor
        self._format = format
        self._files = dict(files)
        self._fetch = fetch
        self._trusted = trusted

    @property
    def manifest(self) -> PackageManifest:
        """The package's manifest."""
        return self._manifest

    @property
    def flavor(self) -> str:
        """The flavor being loaded (the package's, or its representation's)."""
        return self._flavor

    @property
    def format(self) -> str:
        """The format being loaded."""
        return self._format

    @property
    def trusted(self) -> bool:
        """Whether the package's digest has a trust grant."""
        return self._trusted

    def read(self, name: str) -> bytes:
        """A file's verified bytes."""
        spec = self._files.get(name)
        if spec is None:
            raise UnsafeModelError(
                f"The package has no file {name!r} (it has {sorted(self._files)}).",
                hint="The package is incomplete or was not written by this flavor; log the model again.",
            )
        return self._fetch(spec, name)


def check_file_names(files: Mapping[str, FileSpec]) -> None:
    """Every file name of a manifest must be a clean relative path (no '..', no absolute path, no scheme)."""
    for name in files:
        clean_relpath(name)


class Loaders:
    """The flavors this client can save and load, in detection order."""

    def __init__(self) -> None:
        self._flavors: dict[str, Flavor] = {}

    def register(self, flavor: Flavor) -> None:
        """Make a flavor available for saving and loading (the only way in)."""
        if flavor.name in self._flavors:
            raise ConfigError(f"A flavor named {flavor.name!r} is already registered.", hint="Pick another name.")
        if flavor.safe_formats & flavor.code_formats:
            raise ConfigError(
                f"Flavor {flavor.name!r} declares {sorted(flavor.safe_formats & flavor.code_formats)} as both safe "
                "and code-executing.",
                hint="List code-executing formats (pickle) in code_formats only.",
            )
        self._flavors[flavor.name] = flavor

    def flavors(self) -> list[Flavor]:
        """Every registered flavor, in detection order."""
        return list(self._flavors.values())

    def get(self, name: str) -> Flavor:
        """A flavor by name. Raises NotFoundError."""
        found = self._flavors.get(name)
        if found is None:
            raise NotFoundError(
                f"No model flavor named {name!r}.{close_matches(name, self._flavors)}",
                hint=f"Known flavors: {sorted(self._flavors)}.",
            )
        return found

    def save(self, model: object, *, flavor: str | None, trusted: bool, example: object | None) -> tuple[Flavor, Saved]:
        """Detect (or take) the flavor of ``model`` and serialize it."""
        chosen = self.get(flavor) if flavor is not None else self._detect(model)
        saved = chosen.save(model, trusted=trusted, example=example)
        if saved.format not in chosen.safe_formats | chosen.code_formats:
            raise ConfigError(
                f"Flavor {chosen.name!r} wrote format {saved.format!r}, which it does not declare.",
                hint="Declare the format in the flavor's safe_formats or code_formats.",
            )
        return chosen, saved

    def find_flavor(self, model: object) -> Flavor | None:
        """The first registered flavor that recognises ``model``, or None."""
        for candidate in self._flavors.values():
            if candidate.detect(model):
                return candidate
        return None

    def _detect(self, model: object) -> Flavor:
        found = self.find_flavor(model)
        if found is not None:
            return found
        raise InvalidInputError(
            f"modelyard has no flavor for a {type(model).__module__}.{type(model).__qualname__}.",
            hint=f"Log a model of a known flavor ({sorted(self._flavors)}), or an object with a predict method.",
        )

    def load(self, files: VerifiedFiles, *, what: str) -> NativeModel:
        """Check the policy, then let the flavor rebuild the model. ``what`` names the package in errors."""
        flavor = self._flavors.get(files.flavor)
        if flavor is None:
            raise UnsafeModelError(
                f"{what} names flavor {files.flavor!r}, which is not registered here. Nothing was loaded.",
                hint=f"Known flavors: {sorted(self._flavors)}; install the flavor's extra (docs/models.md).",
            )
        if files.format in flavor.code_formats and not files.trusted:
            raise UnsafeModelError(
                f"{what} is stored as {files.format!r}, which runs code when loaded, and it is not trusted. "
                "Nothing was loaded.",
                hint=(
                    "If you made this package, trust it: my.models.trust(REF, reason=...) "
                    "or `modelyard models trust REF`; the grant is bound to its digest."
                ),
            )
        if files.format not in flavor.safe_formats | flavor.code_formats:
            raise UnsafeModelError(
                f"{what} has format {files.format!r}, which flavor {flavor.name!r} does not load.",
                hint=f"Flavor {flavor.name!r} loads {sorted(flavor.safe_formats | flavor.code_formats)}.",
            )
        return flavor.load(files)
