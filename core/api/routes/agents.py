"""Agent profiles: which CLI, model, instructions and tools a run uses."""

from __future__ import annotations

from fastapi import APIRouter, Response

from ...engine import Engine
from ...models import Agent
from ..dependencies import EngineDep
from ..openapi import errors
from ..schemas import AgentIn, AgentOut, AgentUpdate, CliModelSettings, CliOut, ModelSettings

router = APIRouter(tags=["agents"])


async def find_agent(engine: Engine, key: str) -> Agent:
    """A profile by id (of any project), or a profile of every project by name."""
    profiles = await engine.agents()
    found = [a for a in profiles if a.id == key] or [a for a in profiles if a.name == key]
    if len(found) == 1:
        return found[0]
    return await engine.agent(key)  # refuses an unknown or ambiguous name in the usual words


@router.post("/agents", status_code=201, response_model=AgentOut, summary="Create an agent profile",
             responses=errors(400, 404, 409))
async def create_agent(body: AgentIn, engine: EngineDep) -> AgentOut:
    fields = body.model_dump(exclude={"name", "project_id"})
    agent = await engine.add_agent(body.name, project=body.project_id, **fields)
    return AgentOut.of(agent)


@router.get("/agents", response_model=list[AgentOut], summary="List agent profiles")
async def list_agents(engine: EngineDep) -> list[AgentOut]:
    return [AgentOut.of(a) for a in await engine.agents()]


@router.get("/clis", response_model=list[CliOut], summary="The agent CLIs the server's host can run")
async def list_clis(engine: EngineDep) -> list[CliOut]:
    """Every agent CLI corral can drive: installed on the server's host or not, its version, how to
    install it, and what it can do under corral."""
    return [CliOut.of(c) for c in await engine.clis()]


@router.get("/agents/{agent_id}", response_model=AgentOut, summary="Get an agent profile")
async def get_agent(agent_id: str, engine: EngineDep) -> AgentOut:
    return AgentOut.of(await find_agent(engine, agent_id))


async def _update(agent_id: str, body: AgentUpdate, engine: Engine) -> AgentOut:
    agent = await find_agent(engine, agent_id)
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        return AgentOut.of(agent)
    return AgentOut.of(await engine.update_agent(agent.id, **changes))


@router.patch("/agents/{agent_id}", response_model=AgentOut, summary="Change some fields of a profile",
              responses=errors(409))
async def update_agent(agent_id: str, body: AgentUpdate, engine: EngineDep) -> AgentOut:
    """Only the fields given change."""
    return await _update(agent_id, body, engine)


@router.put("/agents/{agent_id}", response_model=AgentOut, summary="Change some fields of a profile",
            responses=errors(409))
async def put_agent(agent_id: str, body: AgentUpdate, engine: EngineDep) -> AgentOut:
    """Partial, like PATCH: only the fields given change."""
    return await _update(agent_id, body, engine)


@router.delete("/agents/{agent_id}", status_code=204, response_class=Response,
               summary="Delete an agent profile", responses=errors(409))
async def delete_agent(agent_id: str, engine: EngineDep) -> Response:
    agent = await find_agent(engine, agent_id)
    await engine.delete_agent(agent.id)
    return Response(status_code=204)


# -- the model settings: each CLI's defaults ----------------------------------------------------

@router.get("/settings/models", response_model=ModelSettings, tags=["settings"],
            summary="Each agent CLI's default model and endpoint")
async def get_model_settings(engine: EngineDep) -> ModelSettings:
    return ModelSettings(clis={cli: CliModelSettings(**defaults)
                               for cli, defaults in (await engine.model_settings()).items()})


@router.put("/settings/models", response_model=ModelSettings, tags=["settings"], responses=errors(400),
            summary="Change each agent CLI's default model and endpoint")
async def set_model_settings(body: ModelSettings, engine: EngineDep) -> ModelSettings:
    """Replaces them all. A profile's own model and provider settings win over these."""
    kept = await engine.set_model_settings({cli: s.model_dump() for cli, s in body.clis.items()})
    return ModelSettings(clis={cli: CliModelSettings(**defaults) for cli, defaults in kept.items()})
