"""What plan and apply share: the selected environments (or the one account), each with
its definitions (its ``vars``, its ``only``), options (its ``protect``, ``safety``),
target and account, and running one call per environment, in the order written.

A repository without ``environments`` is one implicit account, run exactly as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from wfsync.cli.app import connect, register_secrets, selected_patterns, setup_logging
from wfsync.errors import ConfigError, WfsyncError

__all__ = ["Fleet", "Loading", "Member"]

# Turns of the event loop between two files. A page takes a few (its bytes, the request's
# task, the listing's wait), and with one a page moved a step per file read: on loopback the
# listing of 10,000 workflows ended well after the reading (plan 2.4 s, now 1.4 s, on
# bench/plan.py's 400 pages). Which side is first does not matter to memory: whichever comes
# second holds the first's body when the two are equal. More turns than 4 let the whole
# listing arrive first, its values not yet held once: 47-49 MiB at the peak, not 45.
TURNS = 4


@dataclass
class Member:
    """One environment of a run: what it plans with and where it goes."""

    environment: Any  # wfsync.config.Environment (name None: the one implicit account)
    options: Any  # wfsync.sync.Options
    saved: Any = None  # the saved plan for it, with apply --plan
    target: Any = None  # set once its target is open
    error: WfsyncError | None = None  # why it cannot be reached (its result, the others go on)

    @property
    def name(self) -> str | None:
        name: str | None = self.environment.name
        return name

    @property
    def api_name(self) -> str:
        """The API it talks to, as plans record it (before its target opens: as configured)."""
        if self.target is not None:
            name: str = self.target.name
            return name
        return str(self.environment.api_url or "the configured API")


class Loading:
    """The definitions of every environment of a fleet, read a file at a time.

    Reading 10,000 definitions is a second or more of CPU, during which the server (another
    process) can already be answering the listing: :meth:`of`, awaited in the event loop,
    reads one file, lets the loop answer its sockets, reads the next. Cooperative rather
    than a thread: a thread contends for the interpreter lock on every socket event, which
    cost more CPU than the overlap saved. Only reads overlap it: nothing is written anywhere
    before the definitions are in.
    """

    def __init__(self, fleet: Fleet) -> None:
        from wfsync.parsecache import user_cache

        self._fleet = fleet
        self._cache = user_cache()  # a plan only reads: files read before may answer
        self._loaded: dict[str | None, Any] = {}  # by environment: definitions or the error

    def _steps(self, member: Member, known: dict[str, Any] | None = None) -> Generator[Any, None, None]:
        """Read ``member``'s definitions a file at a time, keeping them or its error."""
        if member.name in self._loaded:
            return
        try:
            self._loaded[member.name] = yield from self._fleet.loading_steps(member, self._cache, known)
        except WfsyncError as exc:
            self._loaded[member.name] = exc

    def wait(self) -> None:
        """Read what is not read yet; raises the error of a project without environments."""
        for member in self._fleet.members:
            for _ in self._steps(member):
                pass
            if not self._fleet.named and isinstance(self._loaded[member.name], WfsyncError):
                raise self._loaded[member.name]

    async def of(self, member: Member, known: dict[str, Any] | None = None) -> Any:
        """``member``'s definitions, read between the loop's turns; raises its error.

        ``known`` gets each body by title as its file is read, and the listing, on its way
        meanwhile, each live body whose title it lacks: whichever comes second holds the
        first's object when the two are equal (wfsync.sync.plan_against)."""
        for loaded in self._steps(member, known):
            if known is not None:
                known.update((definition.title, definition.body) for definition in loaded)
            for _ in range(TURNS):
                await asyncio.sleep(0)
        loaded = self._loaded[member.name]
        if isinstance(loaded, WfsyncError):
            raise loaded
        return loaded


class Fleet:
    """The environments a plan or apply command works on, and how to reach each."""

    def __init__(self, paths: tuple[str, ...], given: dict[str, Any], plan_file: str | None = None) -> None:
        from wfsync.config import load_settings, select_environments

        self.paths, self.given = paths, given
        self.settings = load_settings(given["config_file"])
        self.api_url, self.sandbox, self.debug = given["api_url"], given["sandbox"], given["debug"]
        if plan_file is not None:
            self._use_saved(plan_file)
        else:
            self.members = [
                self._member(env) for env in select_environments(self.settings, selected_patterns())
            ]
        # Every command reads the files for their ${NAME} references once, whatever loads.
        register_secrets(self.paths or self.settings.paths)
        if self.api_url and len(self.members) > 1:
            raise ConfigError(
                f"--api-url names one API, and {_names(m.name for m in self.members)} are selected: "
                "choose one with --env"
            )

    def _member(self, env: Any, *, prune: bool | None = None, selection: Any = None) -> Member:
        from wfsync.plan import Selection
        from wfsync.sync import Options

        given = self.given
        chosen = selection or Selection(tuple(given["only"]), tuple(given["exclude"]))
        return Member(
            env,
            Options(
                prune=given["prune"] if prune is None else prune,
                force=given["force"],
                selection=replace(chosen, within=tuple(env.only)),
                protect=tuple(env.protect),
                safety=env.safety,
            ),
        )

    @property
    def named(self) -> bool:
        """True when the project defines environments (plans are then per environment)."""
        return bool(self.settings.environments)

    def load_all(self) -> Loading:
        """Every environment's definitions, to be read while the listings are on their way
        (:meth:`run` with ``loading``). With environments, one that does not load (a secret
        of its own missing) is that environment's error; without, it is the command's, as
        if nothing else had started."""
        return Loading(self)

    def definitions(self, member: Member) -> Any:
        """The definitions as ``member``'s account gets them (its vars; its only), read
        from the files themselves (apply: never from a cache)."""
        from wfsync.definitions import drain

        return drain(self.loading_steps(member, None))

    def loading_steps(
        self, member: Member, cache: Any, bodies: Mapping[str, Any] | None = None
    ) -> Generator[Any, None, Any]:
        """:meth:`definitions` a file at a time (wfsync.definitions.loading_steps); ``cache``
        (wfsync.parsecache) only for a command that writes nothing; ``bodies``: live bodies
        by title, held as they are by an equal definition."""
        from wfsync.definitions import loading_steps

        paths = self.paths or self.settings.paths
        env = member.environment
        return loading_steps(
            paths,
            vars=env.vars,
            environment=env.name,
            include=env.manages if env.only else None,
            cache=cache,
            bodies=bodies,
        )

    @property
    def normalised_file(self) -> str:
        from wfsync.normalised import FILE

        root = os.path.dirname(self.settings.source) if self.settings.source else "."
        return os.path.join(root, FILE)

    def options(self, member: Member) -> Any:
        """``member``'s options, with what its server is known to normalise."""
        from wfsync.normalised import load

        return replace(member.options, normalised=load(self.normalised_file, member.target.name))

    def account(self, member: Member) -> Any:
        from wfsync.sync import Account

        return Account(member.target.name, member.name)

    def remember(self, member: Member, result: Any) -> None:
        """Keep what the verification round learnt, so later plans stop proposing it."""
        from wfsync.normalised import remember

        if result.convergence is not None and result.convergence.learned:
            remember(self.normalised_file, result.plan.api_url, result.convergence.learned)

    def _use_saved(self, plan_file: str) -> None:
        """Bind each environment to its part of a saved plan, whose options it takes.

        The plan decides the environments (an --env must select exactly those), and its
        options: a --prune, --only or --exclude given as well is refused.
        """
        from wfsync.config import select_environments
        from wfsync.saved import read_plans

        plans = read_plans(plan_file)
        if self.given["prune"] or self.given["only"] or self.given["exclude"]:
            raise ConfigError(
                f"{plan_file}: a saved plan records its own --prune, --only and --exclude; give none of them"
            )
        by_name = {plan.environment: plan for plan in plans}
        if len(by_name) != len(plans):
            raise ConfigError(f"{plan_file}: an environment appears twice in the plan")
        if not self.named:
            if set(by_name) != {None}:
                raise ConfigError(
                    f"{plan_file}: the plan is for {_names(by_name)}; no environments are defined"
                )
            environments = select_environments(self.settings, ())
        else:
            if None in by_name:
                raise ConfigError(
                    f"{plan_file}: the plan is for one account; choose an environment and plan again"
                )
            defined = {env.name for env in self.settings.environments}
            unknown = [name for name in by_name if name not in defined]
            if unknown:
                raise ConfigError(f"{plan_file}: environment {unknown[0]!r} is not in the settings")
            environments = select_environments(
                self.settings, selected_patterns() or [str(n) for n in by_name]
            )
            selected = {env.name for env in environments}
            if selected != set(by_name):
                raise ConfigError(
                    f"{plan_file}: the plan is for {_names(by_name)}; this selects {_names(selected)}"
                )
        self.members = []
        for env in environments:
            saved = by_name[env.name]
            if (saved.api_url or "").startswith("sandbox:") != bool(self.sandbox):
                made = "with --sandbox" if not self.sandbox else "against a real account"
                raise ConfigError(
                    f"{plan_file}: this plan was made {made}; apply it the same way"
                    + (" (add --sandbox)" if not self.sandbox else " (drop --sandbox)")
                )
            member = self._member(env, prune=saved.prune, selection=saved.selection)
            member.saved = saved
            self.members.append(member)

    def check(self, results: Sequence[tuple[Member, Any]]) -> None:
        """Fail (after everything was shown) naming each environment whose plan could not be
        made or is over its safety limits (unless --force)."""
        from wfsync.errors import UnsafePlan
        from wfsync.plan import check_safety

        problems = []
        for member, result in results:
            if not isinstance(result, WfsyncError) and not member.options.force:
                try:
                    check_safety(result, member.options.safety)
                except UnsafePlan as exc:
                    result = exc
            if isinstance(result, WfsyncError):
                problems.append((member.name, result))
        if len(problems) == 1 and not self.named:
            raise problems[0][1]
        if problems:
            raise WfsyncError("\n".join(f"{name}: {problem}" for name, problem in problems))

    def run(
        self,
        action: Callable[[Any, Member], Awaitable[Any]],
        *,
        parallel: int = 1,
        connections: int = 20,
        halts: Callable[[Any], bool] = lambda result: False,
        loading: Loading | None = None,
    ) -> list[tuple[Member, Any]]:
        """``await action(api, member)`` for each environment, ``parallel`` at a time in
        the order written (a WfsyncError raised is that environment's result). A result
        that ``halts`` stops the environments not yet started: theirs is None.

        With ``loading`` (the definitions being read meanwhile), a project without
        environments whose definitions fail gets their error, before any other."""
        from wfsync.redact import SECRETS
        from wfsync.target import open_target

        with contextlib.ExitStack() as stack:
            for member in self.members:
                try:
                    target = stack.enter_context(
                        open_target(
                            self.api_url,
                            sandbox=self.sandbox,
                            configured_url=self.settings.api_url,
                            environment=member.environment if self.named else None,
                            settings=self.settings,
                        )
                    )
                except WfsyncError as exc:
                    if not self.named:
                        if loading is not None:
                            loading.wait()  # the definitions' problems come first, as ever
                        raise  # the one account's problem is the command's
                    member.error = exc  # a missing key for one account: the others go on
                    continue
                SECRETS.add(target.key)
                SECRETS.add_url(target.url)
                member.target = target
            setup_logging(self.debug)
            results = asyncio.run(self._all(action, parallel, connections, halts))
        if loading is not None and not self.named:
            loading.wait()  # the one account's definitions failing is the command's error
        return results

    async def _all(
        self,
        action: Callable[[Any, Member], Awaitable[Any]],
        parallel: int,
        connections: int,
        halts: Callable[[Any], bool],
    ) -> list[tuple[Member, Any]]:
        gate = asyncio.Semaphore(max(1, parallel))
        halted = False
        results: list[Any] = [None] * len(self.members)

        async def one(index: int, member: Member) -> None:
            nonlocal halted
            async with gate:
                if halted:
                    return
                if member.error is not None:
                    results[index] = member.error
                    halted = halts(member.error)
                    return
                try:
                    async with connect(member.target, connections) as api:
                        results[index] = await action(api, member)
                except WfsyncError as exc:
                    results[index] = exc
                if halts(results[index]):
                    halted = True

        await asyncio.gather(*(one(n, m) for n, m in enumerate(self.members)))
        return list(zip(self.members, results, strict=True))


def _names(names: Any) -> str:
    shown = sorted(str(name) if name is not None else "the account" for name in names)
    return ", ".join(shown) or "no environment"
