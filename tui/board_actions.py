"""What the user does with the Tasks tab's board, turned into engine work: plan, approve, queue, change,
cancel, retry, rename, move. After each the board is read again and handed to the pane (TasksLoaded)."""

from __future__ import annotations

from typing import Any, Awaitable

from core.models import Plan, Task

from .actions import Actions
from .messages import TasksLoaded
from .screens.text_entry import TextDialog


class BoardActions(Actions):
    # -- the board ---------------------------------------------------------------------------------

    def load(self) -> None:
        """Read the board again, while the Tasks tab shows."""
        if self.app.project is None or self.app.active_tab != "tasks":
            return
        self.app.engine_work(self._load, group="tasks", exclusive=True)

    async def _load(self) -> None:
        project = self.app.project
        if project is None:
            return
        tasks, plans = await self.engine.tasks(project.id), await self.engine.plans(project.id)
        progress = await self.engine.plan_progress(project.id)
        self.app.post_message(TasksLoaded(tasks, next((p for p in plans if p.status != "replaced"), None), progress))

    def _then_load(self, work: Awaitable[Any]) -> None:
        async def run() -> None:
            await work
            await self._load()

        self.app.engine_work(run, group="tasks-action")

    # -- the intents -------------------------------------------------------------------------------

    def plan(self) -> None:
        project = self.app.project
        if project is None:
            return

        async def start(topic: str) -> Plan:
            plan = await self.engine.plan(project.id, topic)
            await self._load()
            return plan

        self.app.push_screen(TextDialog("Plan", f"What should be planned in {project.name}? An agent reads the "
                                        "code (it changes nothing) and writes tasks.", start,
                                        placeholder="e.g. add OAuth login", button="Plan", id="plan-dialog"))

    def approve_plan(self, plan_id: str) -> None:
        self._then_load(self.engine.approve_plan(plan_id))

    def change(self, task_id: str, changes: dict[str, Any], schedule: bool = False) -> None:
        async def change() -> None:
            await self.engine.update_task(task_id, **changes)
            if schedule:
                await self.engine.schedule()

        self._then_load(change())

    def cancel(self, task_id: str) -> None:
        self._then_load(self.engine.cancel_task(task_id))

    def retry(self, task_id: str) -> None:
        self._then_load(self.engine.retry_task(task_id))

    def rename(self, task: Task) -> None:
        async def rename(title: str) -> Task:
            changed = await self.engine.update_task(task.id, title=title)
            await self._load()
            return changed

        self.app.push_screen(TextDialog("Edit task", f"The title of {task.key}:", rename, value=task.title,
                                        button="Save", id="task-dialog"))

    def move(self, task_id: str, other_id: str) -> None:
        self._then_load(self.engine.swap_tasks(task_id, other_id))
