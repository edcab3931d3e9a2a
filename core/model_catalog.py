"""One table of every model Atelier knows, whatever it is for: texture, control, maps, text or
preview (the tiny autoencoders that decode live previews).

Built from the tables that own each kind (``texture_models``, ``control_models``,
``maps_models.MARIGOLD_PARTS``, ``text_models``, ``tiny_autoencoders``), so nothing is written
down twice. Each row says the model's licence, whether that licence allows commercial use
without conditions (when it does not, Atelier asks for a tick before downloading), the download
size and the GPU memory it needs. The preferences' model manager and ``python -m backend
models`` show this table with what the local Hugging Face cache holds of each model. Figures
are approximate (see each table).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import control_models, maps_models, text_models, texture_models, tiny_autoencoders

KINDS = ("texture", "control", "maps", "text", "preview")

# Whether each licence named in the tables allows commercial use as it stands, and what to know.
# Stability's Community License is free for commercial use only below 1 M USD of annual revenue,
# so it is counted as restricting commercial use: the artist confirms it before downloading.
LICENCES = {
    "Apache-2.0": (True, "commercial use allowed"),
    "MIT": (True, "commercial use allowed"),
    "CreativeML OpenRAIL-M": (True, "commercial use allowed, with use-based restrictions"),
    "CreativeML OpenRAIL++-M": (True, "commercial use allowed, with use-based restrictions"),
    maps_models.MARIGOLD_LICENCE: (True, "commercial use allowed, with use-based restrictions"),
    "Stability AI Community License": (False, "commercial use only below 1 M USD of annual revenue; "
                                              "above that an enterprise licence from Stability AI"),
    "FLUX.1 [dev] Non-Commercial License": (False, "non-commercial use only (its outputs may be used "
                                                   "commercially, the model may not)"),
    "Qwen Research License": (False, "research and non-commercial use only"),
    "other (unspecified; see the model card)": (False, "terms unclear: read the model card"),
}
# Hub licence tags (the model card's ``license``, as the hub spells them) that allow commercial
# use, for models outside the table: permissive open-source licences, Creative Commons
# attribution (not -nc) and public-domain dedications, and the OpenRAIL family (use-based
# restrictions only). Every other tag needs the artist's tick: ``other``, ``unknown``, the model
# families' own terms (``llama3``, ``gemma``, ``stabilityai-ai-community``, ...) whose conditions
# Atelier cannot judge, and copyleft licences, whose conditions reach the work built on them.
PERMISSIVE_TAGS = frozenset((
    "apache-2.0", "mit", "bsd", "bsd-2-clause", "bsd-3-clause", "bsd-3-clause-clear", "isc", "zlib",
    "unlicense", "bsl-1.0", "afl-3.0", "ecl-2.0", "postgresql", "ncsa", "cc0-1.0", "pddl", "cc-by-2.0",
    "cc-by-2.5", "cc-by-3.0", "cc-by-4.0", "openrail", "openrail++", "creativeml-openrail-m",
    "bigscience-openrail-m", "bigcode-openrail-m"))
# Words of a tag that say it restricts commercial use (for the reason a refusal gives).
_RESTRICTIVE_TAG_WORDS = ("-nc", "non-commercial", "noncommercial", "research")

# Each Marigold v1-1 part is a Stable Diffusion 2 sized UNet, VAE and text encoder in full
# precision (about 5.2 GB), about 3 GiB of GPU memory in fp16 (approximate).
MARIGOLD_DOWNLOAD_GB = 5.2
MARIGOLD_GPU_GIB = 3.0
# The tiny autoencoders (madebyollin's TAESD family, MIT licence on each model card) are about
# 10 MB of safetensors weights each, and decode a 512 px image in about 0.1 GiB of GPU memory.
TINY_AUTOENCODER_LICENCE = "MIT"
TINY_AUTOENCODER_DOWNLOAD_GB = 0.01
TINY_AUTOENCODER_GPU_GIB = 0.1


@dataclass(frozen=True)
class CatalogEntry:
    """One known model: ``kind`` is one of ``KINDS``; ``purpose`` says what it does in Atelier."""

    kind: str
    id: str
    licence: str
    commercial_use: bool
    download_gb: float
    gpu_gib: float
    source: str
    purpose: str

    def to_dict(self) -> dict:
        """The entry as the ``models`` result sends it."""
        return {"id": self.id, "kind": self.kind, "licence": self.licence,
                "commercial_use": self.commercial_use, "download_gb": self.download_gb,
                "gpu_gib": self.gpu_gib, "source": self.source, "purpose": self.purpose}


def commercial_use(licence: str) -> bool:
    """Whether ``licence`` (a name of ``LICENCES`` or a hub licence tag) allows commercial use
    without conditions. Only the tags of ``PERMISSIVE_TAGS`` do: an unknown one does not."""
    if licence in LICENCES:
        return LICENCES[licence][0]
    return licence.strip().lower() in PERMISSIVE_TAGS


def licence_note(licence: str) -> str:
    """Why a download under ``licence`` (one ``commercial_use`` refuses) needs the artist's tick."""
    if licence in LICENCES:
        return LICENCES[licence][1]
    words = licence.strip().lower()
    if any(word in words for word in _RESTRICTIVE_TAG_WORDS):
        return "it restricts commercial use"
    return "Atelier does not know whether it allows commercial use: read it"


def _entry(kind: str, model_id: str, licence: str, download_gb: float, gpu_gib: float, source: str,
           purpose: str) -> CatalogEntry:
    return CatalogEntry(kind, model_id, licence, commercial_use(licence), download_gb, gpu_gib, source,
                        purpose)


def _build() -> tuple[CatalogEntry, ...]:
    rows = [_entry("texture", model.id, model.licence, model.download_gb, model.gpu_gib, model.source,
                   f"textures ({model.family} family)")
            for model in texture_models.TEXTURE_MODELS]
    rows += [_entry("control", model.id, model.licence, model.download_gb, model.gpu_gib, model.source,
                    f"depth control for {model.base}")
             for model in control_models.CONTROL_MODELS]
    rows += [_entry("maps", part.hub_id, part.licence, MARIGOLD_DOWNLOAD_GB, MARIGOLD_GPU_GIB,
                    "the Hugging Face hub", f"PBR maps: {', '.join(part.maps)}")
             for part in maps_models.MARIGOLD_PARTS]
    rows += [_entry("text", model.id, model.licence, model.download_gb, model.gpu_gib, model.source,
                    "palettes and scene ideas")
             for model in text_models.TEXT_MODELS]
    families: dict[str, list[str]] = {}
    for family, model_id in tiny_autoencoders.TINY_AUTOENCODERS.items():
        families.setdefault(model_id, []).append(family)
    rows += [_entry("preview", model_id, TINY_AUTOENCODER_LICENCE, TINY_AUTOENCODER_DOWNLOAD_GB,
                    TINY_AUTOENCODER_GPU_GIB, "the Hugging Face hub",
                    f"fast live previews of {' and '.join(names)} textures (tiny autoencoder)")
             for model_id, names in families.items()]
    return tuple(rows)


CATALOG = _build()


def find(model_id: str) -> CatalogEntry | None:
    """The catalog entry of ``model_id`` (hub ids ignore case), or None."""
    wanted = model_id.strip().lower()
    return next((entry for entry in CATALOG if entry.id.lower() == wanted), None)
