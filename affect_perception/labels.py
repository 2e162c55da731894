"""Fixed task, AU and EMI orders shared by the messages, the model, the data and the metrics."""

from __future__ import annotations

# Action units in the order of AffectState.au_probabilities / au_active and the ABAW AU files.
AU_NAMES: tuple[str, ...] = (
    "AU1",
    "AU2",
    "AU4",
    "AU6",
    "AU7",
    "AU10",
    "AU12",
    "AU15",
    "AU23",
    "AU24",
    "AU25",
    "AU26",
)
# Emotional-mimicry dimensions in the order of AffectState.emi_intensities and the EMI CSV.
EMI_NAMES: tuple[str, ...] = (
    "Admiration",
    "Amusement",
    "Determination",
    "Empathic Pain",
    "Excitement",
    "Joy",
)
VA_NAMES: tuple[str, ...] = ("valence", "arousal")
# Model heads / tasks, in the order the temporal model emits them.
TASKS: tuple[str, ...] = ("va", "au", "emi", "ah")
# Output width of each task head.
TASK_DIMS: dict[str, int] = {"va": 2, "au": len(AU_NAMES), "emi": len(EMI_NAMES), "ah": 1}

# Markers for a missing label in the Aff-Wild2 files.
VA_MISSING = -5.0
AU_MISSING = -1
