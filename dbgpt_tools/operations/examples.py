"""Question-SQL example operations: teach a datasource a verified pair, list and delete its pairs, and mark an
answer correct (which teaches its query)."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, Field

from dbgpt_tools.chat.feedback import Feedback, FeedbackResult, FeedbackService
from dbgpt_tools.operations.base import AnyOperation, Operation, Progress
from dbgpt_tools.operations.datasources import DatasourceName, DatasourceRef
from dbgpt_tools.sql.examples import Example, ExampleIn, ExampleList, ExampleStore


class AddExampleArgs(ExampleIn):
    """A pair for a datasource."""

    datasource: str = DatasourceName


async def add_sql_example(examples: ExampleStore, args: AddExampleArgs, progress: Progress | None = None) -> Example:
    """Check (read-only, safe, runs) and store a question-SQL pair."""
    return await examples.add(args.datasource, ExampleIn(question=args.question, sql=args.sql))


async def list_sql_examples(
    examples: ExampleStore, args: DatasourceRef, progress: Progress | None = None
) -> ExampleList:
    """A datasource's pairs."""
    return await asyncio.to_thread(examples.list, args.datasource)


class ExampleRef(BaseModel):
    """One pair of a datasource."""

    datasource: str = DatasourceName
    example_id: int = Field(ge=1, description="The pair's id.")


async def delete_sql_example(examples: ExampleStore, args: ExampleRef, progress: Progress | None = None) -> Example:
    """Remove a pair."""
    return await asyncio.to_thread(examples.delete, args.datasource, args.example_id)


async def give_feedback(feedback: FeedbackService, args: Feedback, progress: Progress | None = None) -> FeedbackResult:
    """Mark an answer right or wrong; a right chat_data answer becomes an example."""
    return await feedback.give(args)


EXAMPLE_OPERATIONS: tuple[AnyOperation, ...] = (
    Operation(
        name="add_sql_example",
        title="Teach a question-SQL example",
        description="Store a verified question and the SQL that answers it on a datasource; chat_data shows the "
        "most similar pairs to the model with each new question. The SQL must be one read-only statement that runs.",
        args_model=AddExampleArgs,
        result_model=Example,
        uses=lambda runtime: runtime.examples,
        run=add_sql_example,
        read_only=False,
        idempotent=False,
    ),
    Operation(
        name="list_sql_examples",
        title="List question-SQL examples",
        description="The verified question-SQL pairs of a datasource.",
        args_model=DatasourceRef,
        result_model=ExampleList,
        uses=lambda runtime: runtime.examples,
        run=list_sql_examples,
    ),
    Operation(
        name="delete_sql_example",
        title="Delete a question-SQL example",
        description="Remove one question-SQL pair of a datasource.",
        args_model=ExampleRef,
        result_model=Example,
        uses=lambda runtime: runtime.examples,
        run=delete_sql_example,
        read_only=False,
        destructive=True,
    ),
    Operation(
        name="give_feedback",
        title="Give feedback on an answer",
        description="Mark an answer of a conversation correct or not (answer 1 = the latest). A correct chat_data "
        "answer teaches its datasource the question and the query that ran.",
        args_model=Feedback,
        result_model=FeedbackResult,
        uses=lambda runtime: runtime.feedback,
        run=give_feedback,
        read_only=False,
        idempotent=False,
    ),
)
