"""The tokenize panel: type a text, see its pieces."""

from __future__ import annotations

import ipywidgets as widgets

from ..errors import BertNbError
from ._base import _Panel


class TokenizePanel(_Panel):
    """Type text (and an optional pair), see its pieces."""

    name = "tokenize"  # its tab in the dashboard and `%bert panel tokenize`
    tab_order = 10
    save_format = "html"  # the pieces are an HTML view, not a figure
    runs_model = False  # a tokenizer alone is enough

    def __init__(self, engine=None, text: str = "Tokenization isn't magic: it's WordPiece.", pair: str = ""):
        super().__init__(engine)
        self.text = widgets.Textarea(value=text, description="Text A", layout=widgets.Layout(width="95%"))
        self.pair = widgets.Text(value=pair, description="Text B", placeholder="optional second segment",
                                 layout=widgets.Layout(width="95%"))
        self.button = widgets.Button(description="Tokenize", button_style="primary")
        self.view = widgets.HTML()
        self.button.on_click(lambda _: self.run())
        self.children = [self.text, self.pair, self.button, self.view, self.save_row, self.status]
        self.run()

    def run(self):
        """Tokenize the boxes' text and show the pieces."""
        from ..tokens import tokenize
        from ..render import token_html

        try:
            self.result = tokenize(self.engine, self.text.value, self.pair.value or None)
        except BertNbError as err:
            self._say(str(err), error=True)
            return None
        self.view.value = token_html(self.result)
        self._say(f"{len(self.result)} pieces" + (f"; {self.result.note}" if self.result.note else ""))
        return self.result


PANELS = (TokenizePanel,)  # the dashboard finds its tabs here
