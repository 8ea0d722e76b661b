"""Griffe extension: mpi4numba's reStructuredText docstrings as Markdown for mkdocstrings.

The docstrings are written for Sphinx/doctest. Before mkdocstrings renders them this
extension rewrites, per docstring and outside code blocks:

* doctest examples (``>>>`` blocks) into fenced ``pycon`` code blocks, without
  ``# doctest:`` flags;
* literal blocks (a paragraph ending in ``::`` followed by an indented block) into fenced
  ``python`` code blocks, the ``::`` into ``:``;
* roles (``:func:`name```, ``:mod:`~mpi4numba.p2p```, ...) into optional cross-references
  to the page where the object is documented: names are looked up in the docstring's
  module, then among the public names of mpi4numba's modules; a target that is not
  rendered anywhere stays plain code (autorefs drops optional references it cannot find).

Nothing in ``src/`` changes: the same docstrings still run as doctests.
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Alias, Extension, Module, Object

ROLE = re.compile(r":(?:py:)?(?:func|mod|class|meth|attr|data|obj|exc|const):`(~?)([^`<>]+)`")
DOCTEST_FLAG = re.compile(r"\s*#\s*doctest:.*$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


class RstToMarkdown(Extension):
    """Rewrite every docstring of the package once it is loaded."""

    def on_package(self, *, pkg: Module, **kwargs: Any) -> None:
        public = self._public_names(pkg)
        for obj in self._walk(pkg):
            if obj.docstring is not None:
                obj.docstring.value = self._convert(obj.docstring.value, obj, public)

    @staticmethod
    def _walk(obj: Object):
        yield obj
        for member in obj.members.values():
            if isinstance(member, Alias):
                continue
            yield from RstToMarkdown._walk(member)

    @staticmethod
    def _public_names(pkg: Module) -> dict[str, str]:
        """Public name -> full path of the object in the module that documents it."""
        found: dict[str, str] = {}
        for name, module in sorted(pkg.modules.items()):
            if name.startswith("_") or not isinstance(module, Module):
                continue
            exports = module.exports or [n for n in module.members if not n.startswith("_")]
            for export in exports:
                found.setdefault(str(export), f"{module.path}.{export}")
        return found

    def _target(self, name: str, obj: Object, public: dict[str, str]) -> str:
        package = obj.package.path
        if name.startswith(package + "."):
            rest = name[len(package) + 1 :]
            if "." in rest:
                return name  # mpi4numba.module.name or a module path
            return public.get(rest, name)  # mpi4numba.name -> where it is documented
        module = obj if isinstance(obj, Module) else obj.module
        if module.path != package and name.split(".")[0] in module.members:
            return f"{module.path}.{name}"
        return public.get(name, name)

    def _roles(self, text: str, obj: Object, public: dict[str, str]) -> str:
        def replace(match: re.Match) -> str:
            short, name = match.group(1), match.group(2).strip()
            title = name.rsplit(".", 1)[-1] if short else name
            target = self._target(name, obj, public)
            return f'<autoref identifier="{target}" optional><code>{title}</code></autoref>'

        return ROLE.sub(replace, text)

    def _convert(self, text: str, obj: Object, public: dict[str, str]) -> str:
        lines = text.split("\n")
        out: list[str] = []
        i = 0
        fence = False
        while i < len(lines):
            line = lines[i]
            stripped = line.strip()
            if stripped.startswith("```"):
                fence = not fence
                out.append(line)
                i += 1
                continue
            if fence:
                out.append(line)
                i += 1
                continue
            if stripped.startswith(">>>"):
                pad = " " * _indent(line)
                if out and out[-1].strip():
                    out.append("")
                out.append(pad + "```pycon")
                while i < len(lines) and lines[i].strip():
                    out.append(pad + DOCTEST_FLAG.sub("", lines[i][len(pad) :]))
                    i += 1
                out.append(pad + "```")
                continue
            if stripped.endswith("::") and not stripped.startswith(".."):
                base = _indent(line)
                head = line.rstrip()[:-2].rstrip()
                if head.strip():
                    out.append(self._roles(head + ":", obj, public))
                i += 1
                block: list[str] = []
                while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > base):
                    block.append(lines[i])
                    i += 1
                while block and not block[-1].strip():
                    i -= 1
                    block.pop()
                body = [b for b in block if b.strip()]
                if body:
                    cut = min(_indent(b) for b in body)
                    pad = " " * base
                    out.append("")
                    out.append(pad + "```python")
                    start = next(k for k, b in enumerate(block) if b.strip())
                    out.extend(pad + b[cut:] if b.strip() else "" for b in block[start:])
                    out.append(pad + "```")
                continue
            out.append(self._roles(line, obj, public))
            i += 1
        return "\n".join(out)
