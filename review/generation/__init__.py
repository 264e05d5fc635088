"""Generation: fill every variant's slots with the local model, check, and store drafts.

- `pipeline`: slot requests -> model candidates -> cleaned, scored, chosen fills (no job state);
- `jobs`: the job runner (start, cancel, progress, run in batches, finish; locks and audit);
- `reproduce`: reproduce a stored draft for an examiner, regenerate one slot.

The public names are re-exported here: `from review.generation import generate_campaign`.
"""

from .jobs import Progress, cancel_job, generate_campaign, progress, run_job, start_job
from .pipeline import CampaignContext, SlotRequest, cache_key, derive_seed, select_fill, slot_prompt
from .reproduce import VerifyReport, regenerate_slot, regenerate_verify

__all__ = [
    "CampaignContext",
    "Progress",
    "SlotRequest",
    "VerifyReport",
    "cache_key",
    "cancel_job",
    "derive_seed",
    "generate_campaign",
    "progress",
    "regenerate_slot",
    "regenerate_verify",
    "run_job",
    "select_fill",
    "slot_prompt",
    "start_job",
]
