"""Draw every diagram under bpmn/ as SVG from its diagram interchange, for the docs.

`kalite-pictures [--dir bpmn] [--out docs/diagrams]` writes one SVG per diagram (and one per
collapsed sub-process). A test checks the committed pictures match the diagrams, so the README
never shows a procedure that is no longer the one that runs. `highlight` marks elements (for
process coverage pictures).
"""

from __future__ import annotations

import argparse
import textwrap
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from html import escape
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
}
TASKS = {
    "task",
    "serviceTask",
    "userTask",
    "callActivity",
    "subProcess",
    "sendTask",
    "receiveTask",
    "scriptTask",
}
GATEWAYS = {"exclusiveGateway", "parallelGateway", "eventBasedGateway", "inclusiveGateway"}
MARGIN = 30
FONT = "font-family='DejaVu Sans, Arial, sans-serif' font-size='11'"


@dataclass(frozen=True)
class Picture:
    name: str
    svg: str


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _elements(root: ET.Element) -> dict[str, ET.Element]:
    return {el.attrib["id"]: el for el in root.iter() if "id" in el.attrib}


def _text(x: float, y: float, label: str, width: float, *, centred: bool = True) -> str:
    """Wrapped text: centred on y (inside a task), or starting at y (a label's box)."""
    chars = max(8, int(width / 5.5))
    lines = textwrap.wrap(label, chars, break_long_words=False) or [""]
    top = y - (len(lines) - 1) * 6.5 if centred else y
    return "".join(
        f"<text x='{x:.0f}' y='{top + i * 13:.0f}' text-anchor='middle' {FONT}>{escape(line)}</text>"
        for i, line in enumerate(lines)
    )


def _shape(kind: str, el: ET.Element, x: float, y: float, w: float, h: float, stroke: str) -> str:
    name = el.attrib.get("name", "")
    cx, cy = x + w / 2, y + h / 2
    if kind in TASKS:
        expanded = kind == "subProcess"
        body = (
            f"<rect x='{x}' y='{y}' width='{w}' height='{h}' rx='10' fill='white' "
            f"stroke='{stroke}' stroke-width='2'/>" + _text(cx, cy + 4, name, w - 10)
        )
        if kind == "userTask":  # a small person: head and shoulders
            body += (
                f"<circle cx='{x + 12}' cy='{y + 10}' r='3.5' fill='none' stroke='{stroke}'/>"
                f"<path d='M {x + 5} {y + 22} q 7 -10 14 0' fill='none' stroke='{stroke}'/>"
            )
        elif kind == "serviceTask":
            body += f"<text x='{x + 6}' y='{y + 16}' {FONT}>⚙</text>"
        elif kind == "callActivity":
            body = body.replace("stroke-width='2'", "stroke-width='4'", 1)
        if expanded:
            body += (
                f"<rect x='{cx - 7}' y='{y + h - 16}' width='14' height='14' fill='white' stroke='{stroke}'/>"
            )
            body += f"<text x='{cx}' y='{y + h - 5}' text-anchor='middle' {FONT}>+</text>"
        if el.find("bpmn:multiInstanceLoopCharacteristics", NS) is not None:
            body += f"<text x='{cx + 14}' y='{y + h - 4}' {FONT}>|||</text>"
        return body
    if kind in GATEWAYS:
        points = f"{cx},{y} {x + w},{cy} {cx},{y + h} {x},{cy}"
        marker = {
            "exclusiveGateway": "×",
            "parallelGateway": "+",
            "eventBasedGateway": "◇",
            "inclusiveGateway": "○",
        }
        return (
            f"<polygon points='{points}' fill='white' stroke='{stroke}' stroke-width='2'/>"
            f"<text x='{cx}' y='{cy + 6}' text-anchor='middle' font-size='18'>{marker[kind]}</text>"
        )
    r = w / 2
    width = {"endEvent": 4}.get(kind, 2)
    body = f"<circle cx='{cx}' cy='{cy}' r='{r}' fill='white' stroke='{stroke}' stroke-width='{width}'/>"
    if kind in {"intermediateThrowEvent", "intermediateCatchEvent", "boundaryEvent"}:
        dash = " stroke-dasharray='4 3'" if el.attrib.get("cancelActivity") == "false" else ""
        body = body.replace("/>", f"{dash}/>", 1)
        body += f"<circle cx='{cx}' cy='{cy}' r='{r - 3}' fill='none' stroke='{stroke}'{dash}/>"
    icon = ""
    if el.find("bpmn:timerEventDefinition", NS) is not None:  # a clock face with two hands
        body += (
            f"<circle cx='{cx}' cy='{cy}' r='{r - 8}' fill='none' stroke='{stroke}'/>"
            f"<path d='M {cx} {cy - r + 11} L {cx} {cy} L {cx + r - 12} {cy}' fill='none' stroke='{stroke}'/>"
        )
    elif el.find("bpmn:messageEventDefinition", NS) is not None:
        icon = "✉"
    elif el.find("bpmn:errorEventDefinition", NS) is not None:
        icon = "⚡"
    if icon:
        body += f"<text x='{cx}' y='{cy + 5}' text-anchor='middle' font-size='14'>{icon}</text>"
    return body


def _label(el: ET.Element, di: ET.Element, x: float, y: float, w: float, h: float) -> str:
    name = el.attrib.get("name", "")
    if not name:
        return ""
    bounds = di.find("bpmndi:BPMNLabel/dc:Bounds", NS)
    if bounds is not None:
        lx, ly, lw = (float(bounds.attrib[k]) for k in ("x", "y", "width"))
        return _text(lx + lw / 2, ly + 10, name, max(lw, 60), centred=False)
    return _text(x + w / 2, y + h + 16, name, 110, centred=False)


def render(path: Path, highlight: set[str] | None = None) -> list[Picture]:
    """One SVG per BPMN plane of the file; `highlight` ids are drawn green, others grey."""
    root = ET.parse(path).getroot()  # noqa: S314 - the repository's own diagrams
    elements = _elements(root)
    pictures = []
    for diagram in root.iter(f"{{{NS['bpmndi']}}}BPMNDiagram"):
        plane = diagram.find("bpmndi:BPMNPlane", NS)
        assert plane is not None
        parts: list[str] = []
        labels: list[str] = []
        xs: list[float] = []
        ys: list[float] = []

        def colour(element_id: str) -> str:
            if highlight is None:
                return "#1f2d3d"
            return "#1a7f37" if element_id in highlight else "#b0b7c3"

        for edge in plane.findall("bpmndi:BPMNEdge", NS):
            ref = edge.attrib["bpmnElement"]
            points = [(float(p.attrib["x"]), float(p.attrib["y"])) for p in edge.findall("di:waypoint", NS)]
            xs += [p[0] for p in points]
            ys += [p[1] for p in points]
            stroke = colour(ref)
            parts.append(
                f"<polyline points='{' '.join(f'{x},{y}' for x, y in points)}' fill='none' stroke='{stroke}' "
                f"stroke-width='1.6' marker-end='url(#arrow)'/>"
            )
            el = elements.get(ref)
            if el is not None and el.attrib.get("name"):
                bounds = edge.find("bpmndi:BPMNLabel/dc:Bounds", NS)
                if bounds is not None:
                    lx, ly, lw = (float(bounds.attrib[k]) for k in ("x", "y", "width"))
                else:
                    (x1, y1), (x2, y2) = points[0], points[1]
                    lx, ly, lw = (x1 + x2) / 2 - 45, (y1 + y2) / 2 - 14, 90.0
                labels.append(_text(lx + lw / 2, ly + 10, el.attrib["name"], max(lw, 60), centred=False))
                xs += [lx - 10, lx + max(lw, 60) + 10]
                ys += [ly, ly + 40]
        for shape in plane.findall("bpmndi:BPMNShape", NS):
            ref = shape.attrib["bpmnElement"]
            el = elements.get(ref)
            bounds = shape.find("dc:Bounds", NS)
            if el is None or bounds is None:
                continue
            x, y, w, h = (float(bounds.attrib[k]) for k in ("x", "y", "width", "height"))
            xs += [x, x + w]
            ys += [y, y + h + 30]
            kind = _local(el.tag)
            parts.append(_shape(kind, el, x, y, w, h, colour(ref)))
            if kind not in TASKS:
                labels.append(_label(el, shape, x, y, w, h))
                label_box = shape.find("bpmndi:BPMNLabel/dc:Bounds", NS)
                if label_box is not None:
                    lx, ly, lw = (float(label_box.attrib[k]) for k in ("x", "y", "width"))
                    xs += [lx - 10, lx + max(lw, 60) + 10]
                    ys += [ly, ly + 40]
                else:
                    xs += [x + w / 2 - 65, x + w / 2 + 65]
        left, top = min(xs) - MARGIN, min(ys) - MARGIN
        width, height = max(xs) - left + MARGIN, max(ys) - top + MARGIN
        owner = elements.get(plane.attrib["bpmnElement"])
        title = owner.attrib.get("name", plane.attrib["bpmnElement"]) if owner is not None else ""
        svg = (
            "<svg xmlns='http://www.w3.org/2000/svg' "
            f"viewBox='{left:.0f} {top:.0f} {width:.0f} {height:.0f}' "
            f"width='{width:.0f}' height='{height:.0f}'>"
            f"<title>{escape(title)}</title>"
            "<defs><marker id='arrow' viewBox='0 0 10 10' refX='10' refY='5' "
            "markerWidth='7' markerHeight='7' "
            "orient='auto-start-reverse'><path d='M 0 0 L 10 5 L 0 10 z' fill='#1f2d3d'/></marker></defs>"
            f"<rect x='{left:.0f}' y='{top:.0f}' width='{width:.0f}' height='{height:.0f}' fill='white'/>"
            + "".join(parts)
            + "".join(labels)
            + "</svg>\n"
        )
        pictures.append(Picture(name=plane.attrib["bpmnElement"], svg=svg))
    return pictures


def write_all(source: Path, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(source.glob("*.bpmn")):
        for picture in render(path):
            target = out / f"{picture.name}.svg"
            target.write_text(picture.svg, encoding="utf-8")
            written.append(target)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(prog="kalite-pictures", description=__doc__)
    parser.add_argument("--dir", type=Path, default=REPO / "bpmn", help="diagrams")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "diagrams", help="where the SVGs go")
    args = parser.parse_args()
    for path in write_all(args.dir, args.out):
        print(path.relative_to(REPO) if path.is_relative_to(REPO) else path)  # noqa: T201 - CLI output


if __name__ == "__main__":
    main()
