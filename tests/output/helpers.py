"""Small parsers the writer tests share."""

from __future__ import annotations

from html.parser import HTMLParser


class TagCollector(HTMLParser):
    """Collects every start tag with its attributes, as a browser's tokenizer would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(document: str) -> TagCollector:
    collector = TagCollector()
    collector.feed(document)
    collector.close()
    return collector
