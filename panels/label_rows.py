"""Lists whose rows are read-only labels (shared by the sidebar's UILists)."""

from __future__ import annotations

#: A column: its text, or (text, icon).
Column = str | tuple[str, str]


class LabelRows:
    """Mixin of a ``bpy.types.UIList`` whose rows are labels: the item's name with
    ``row_icon``, then one label per entry of :meth:`columns`."""

    row_icon = "NONE"

    def columns(self, item) -> list[Column]:
        return []

    def draw_item(self, context, layout, data, item, icon, active_data, active_property,
                  index=0, flt_flag=0):
        row = layout.row(align=True)
        row.label(text=item.name, icon=self.row_icon)
        for column in self.columns(item):
            text, column_icon = (column, "NONE") if isinstance(column, str) else column
            row.label(text=text, icon=column_icon)
