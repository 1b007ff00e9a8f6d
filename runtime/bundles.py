"""The loaded bundle of a deployed model, checked to be of the kind the caller
expects, and the answers a knowledge-base bundle gives to validated options."""

from __future__ import annotations

from typing import Any

from runtime.errors import InternalServerError
from runtime.parsing import QnaOptions
from runtime.registry import DeployedModel, runtime
from studio.errors import InvalidArgument
from training.engine.bundles import KnowledgeBaseBundle
from training.engine.qna import QnaError


def deployed_bundle(model: DeployedModel, expected: type[Any]) -> Any:
    bundle = runtime().models.get(model)
    if not isinstance(bundle, expected):
        raise InternalServerError(
            f"The model {model.model_id!r} of deployment {model.deployment_name!r} "
            f"holds a {type(bundle).__name__}, not a {expected.__name__}."
        )
    return bundle


def kb_answers(
    model: DeployedModel, bundle: KnowledgeBaseBundle, options: QnaOptions
) -> list[dict[str, Any]]:
    try:
        answers = bundle.kb.query(
            options.question,
            qna_id=options.qna_id,
            top=options.top,
            confidence_threshold=options.confidence_threshold,
            filters=options.filters,
            context=options.context,
            ranker_type=options.ranker_type,
            answer_span=options.answer_span,
        )
    except QnaError as exc:
        message = str(exc)
        raise InvalidArgument(message, target=message.split(" ", 1)[0]) from None
    # The project's default answer may change after deployment without a rebuild.
    if model.default_answer and len(answers) == 1 and answers[0].get("id") == -1:
        answers[0]["answer"] = model.default_answer
    return answers
