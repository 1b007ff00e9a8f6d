"""Vocabulary shared by every layer: plain constants, no Django models, no imports
from the apps. Jobs, services, APIs, views and the runtime import these names from
here, so that none of them has to reach into another layer's API module for a word.
"""

from __future__ import annotations

from datetime import date

# Project kinds (``Project.Kind`` takes its values from here).
CONVERSATION = "Conversation"
ORCHESTRATION = "Orchestration"
QUESTION_ANSWERING = "QuestionAnswering"
# Kinds served by the conversation APIs (CLU) and by question answering.
CLU_KINDS = (CONVERSATION, ORCHESTRATION)
QA_KINDS = (QUESTION_ANSWERING,)

# Training config versions (``GET .../training/config-versions``, ``:train``'s
# ``trainingConfigVersion``). Our models are files we keep: they do not expire as
# Azure's do, but the contract requires a date, so the one config version reports a
# date far away.
TRAINING_CONFIG_VERSIONS: tuple[tuple[str, date], ...] = (
    ("2022-05-01", date(2099, 12, 31)),
)
