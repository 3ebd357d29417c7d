"""A tiny SQLite kernel: the hermetic channel's stand-in for xeus-sqlite.

Package data: the `xeus-sqlite` package of the local channel installs this file as
`xsqlite_kernel.py` next to ipykernel, and its kernelspec `xsqlite` runs
`<env>/bin/python -m xsqlite_kernel -f {connection_file}`. Never imported by jh_pipeline itself.

A cell holds SQL statements, run with sqlite3 on an in-memory database; the rows of the last
statement that returns rows come back as an execute_result (a text table and an HTML table).
Magics, one per line: `%file PATH` opens (creating) a database file instead; xeus-sqlite's
`%LOAD PATH` and `%CREATE PATH` do the same.
"""

from __future__ import annotations

import html
import sqlite3
from typing import Any, ClassVar

from ipykernel.kernelbase import Kernel

__version__ = "0.1.0"
_OPEN_MAGICS = ("%file", "%load", "%create")


def split_statements(sql: str) -> list[str]:
    """Complete statements of `sql` (a last one may lack its `;`); semicolons in strings stay."""
    statements, current = [], ""
    for char in sql:
        current += char
        if char == ";" and sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements


def text_table(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    lines = [" | ".join(columns)] if columns else []
    lines += [" | ".join("NULL" if v is None else str(v) for v in row) for row in rows]
    return "\n".join(lines)


def html_table(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape('NULL' if v is None else str(v))}</td>" for v in row) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class SQLiteKernel(Kernel):
    implementation = "xsqlite"
    implementation_version = __version__
    language = "sql"
    language_version = sqlite3.sqlite_version
    language_info: ClassVar[dict[str, str]] = {
        "name": "sql",
        "version": sqlite3.sqlite_version,
        "mimetype": "text/x-sql",
        "file_extension": ".sql",
        "codemirror_mode": "sql",
    }
    banner = f"SQLite {sqlite3.sqlite_version} (hermetic stand-in for xeus-sqlite)"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.db = sqlite3.connect(":memory:", isolation_level=None)  # autocommit, like the sqlite3 shell

    def do_execute(  # type: ignore[override]
        self,
        code: str,
        silent: bool,
        store_history: bool = True,
        user_expressions: dict[str, Any] | None = None,
        allow_stdin: bool = False,
        *,
        cell_id: str | None = None,
    ) -> dict[str, Any]:
        sql_lines, result = [], None
        try:
            for line in code.splitlines():
                words = line.strip().split()
                if words and words[0].lower() in _OPEN_MAGICS:
                    if len(words) < 2:
                        raise ValueError(f"{words[0]} needs a database path")
                    self.db.close()
                    self.db = sqlite3.connect(words[1], isolation_level=None)
                else:
                    sql_lines.append(line)
            for statement in split_statements("\n".join(sql_lines)):
                cursor = self.db.execute(statement)
                if cursor.description is not None:
                    result = ([d[0] for d in cursor.description], cursor.fetchall())
        except (sqlite3.Error, ValueError) as exc:
            content = {"ename": type(exc).__name__, "evalue": str(exc), "traceback": [f"{type(exc).__name__}: {exc}"]}
            if not silent:
                self.send_response(self.iopub_socket, "error", content)
            return {"status": "error", "execution_count": self.execution_count, **content}
        if result is not None and not silent:
            columns, rows = result
            data = {"text/plain": text_table(columns, rows), "text/html": html_table(columns, rows)}
            self.send_response(
                self.iopub_socket,
                "execute_result",
                {"execution_count": self.execution_count, "data": data, "metadata": {}},
            )
        return {"status": "ok", "execution_count": self.execution_count, "payload": [], "user_expressions": {}}

    def do_shutdown(self, restart: bool) -> dict[str, Any]:  # type: ignore[override]
        self.db.close()
        return {"status": "ok", "restart": restart}


def main() -> None:
    from ipykernel.kernelapp import IPKernelApp

    IPKernelApp.launch_instance(kernel_class=SQLiteKernel)


if __name__ == "__main__":
    main()
