"""A small eval suite for answer quality: twelve one-paragraph documents in six pairs on the same
kind of thing (two lighthouses, two bakeries, two volcanoes, ...), so every answer has a near
miss to avoid; questions worded unlike the text; on-topic questions the documents do not answer
(the near miss often does: "How tall is the Skerry Point lighthouse?" when only Hallan Bay's height
is given); two off-topic ones. The facts are invented, so no model can know them beforehand.

Used by tests/test_eval_run.py, through the eval runner: per-question outcomes with floors that
the extractive default meets (see there)."""

from __future__ import annotations

import json
from pathlib import Path

DOCS = {
    "skerry-point-lighthouse.txt": (
        "The Skerry Point lighthouse was built in 1874 by the engineer Margaret Olsen. "
        "Its lamp can be seen from 22 nautical miles away. "
        "The keeper's cottage now houses a small museum about shipwrecks on the coast."
    ),
    "hallan-bay-lighthouse.txt": (
        "The Hallan Bay lighthouse was completed in 1902 to a design by Thomas Reed. "
        "The tower is 31 metres tall and is painted in red and white bands. "
        "It was automated in 1985, when its last keeper retired."
    ),
    "corner-bakery.md": (
        "# The Corner Bakery\n\nThe Corner Bakery opened in 1962 on Mill Street. "
        "Its best-known loaf is a rye sourdough that proofs for eighteen hours. "
        "The bakery closes every Monday so the ovens can be cleaned."
    ),
    "harbour-bakery.md": (
        "# Harbour Bakery\n\nHarbour Bakery was founded in 1988 by the brothers Luca and Paolo Ferri. "
        "It sells about 400 croissants every Saturday. "
        "Its wood-fired oven reaches 450 degrees Celsius."
    ),
    "mount-keldur.txt": (
        "Mount Keldur is a shield volcano in the north of the island. "
        "Its last eruption, in 1913, sent lava flows eleven kilometres to the sea. "
        "Geologists monitor the volcano with nine seismometers."
    ),
    "vatnafell.txt": (
        "Vatnafell is a stratovolcano in the south of the island, 1,740 metres high. "
        "It last erupted in 1961, covering the nearby farms in ash. "
        "A glacier caps its summit all year."
    ),
    "ostby-railway.txt": (
        "The Ostby railway opened in 1898 and runs 64 kilometres along the river valley. "
        "Steam trains were replaced by diesel locomotives in 1957. "
        "Today the line carries mostly timber."
    ),
    "lunde-tramway.txt": (
        "The Lunde tramway opened in 1910 with six electric cars. "
        "It closed in 1964, when buses took over its routes. "
        "One of its cars is kept in the town museum."
    ),
    "alder-marsh-herons.txt": (
        "Grey herons nest in the tall alders of Alder Marsh. "
        "About sixty pairs return to the colony every March. "
        "Each pair raises three or four chicks."
    ),
    "tern-estuary-otters.txt": (
        "The otters of the Tern estuary feed mostly on eels and shore crabs. "
        "Their numbers doubled after the river was cleaned up in 1995. "
        "They are most often seen at dawn."
    ),
    "glass-museum.txt": (
        "The Varde glass museum shows 3,000 objects made in the town's glassworks. "
        "The glassworks was started in 1851 by Henrik Varde. "
        "Visitors can watch glassblowers at work on weekdays."
    ),
    "paper-mill.txt": (
        "The Sondby paper mill made newsprint from 1907 until 1992. "
        "At its peak it employed 1,200 people. "
        "The mill buildings are now flats and a concert hall."
    ),
}

QUESTIONS = [
    # Answerable, worded unlike the text. The first three stay in this order (test_eval_run).
    {"id": "skerry-year", "question": "In what year was the light tower at Skerry Point put up?",
     "answers": ["1874"], "sources": ["skerry-point-lighthouse.txt"]},
    {"id": "skerry-engineer", "question": "Which engineer was responsible for the Skerry Point lighthouse?",
     "answers": ["Margaret Olsen"], "sources": ["skerry-point-lighthouse.txt"]},
    {"id": "rye-rise", "question": "How long is the Corner Bakery's rye dough left to rise?",
     "answers": ["eighteen hours", "18 hours"], "sources": ["corner-bakery.md"]},
    {"id": "skerry-range", "question": "From how far out at sea is the Skerry Point lamp visible?",
     "answers": ["22 nautical miles"], "sources": ["skerry-point-lighthouse.txt"]},
    {"id": "hallan-height", "question": "What is the height of the Hallan Bay tower?",
     "answers": ["31 metres"], "sources": ["hallan-bay-lighthouse.txt"]},
    {"id": "hallan-keeper", "question": "When did Hallan Bay stop having a lighthouse keeper?",
     "answers": ["1985"], "sources": ["hallan-bay-lighthouse.txt"]},
    {"id": "corner-shut", "question": "On which day of the week can you not buy bread at the Corner Bakery?",
     "answers": ["Monday"], "sources": ["corner-bakery.md"]},
    {"id": "harbour-founders", "question": "Who set up Harbour Bakery?",
     "answers": ["Ferri"], "sources": ["harbour-bakery.md"]},
    {"id": "harbour-oven", "question": "How hot does the Harbour Bakery's oven get?",
     "answers": ["450 degrees"], "sources": ["harbour-bakery.md"]},
    {"id": "keldur-lava", "question": "How far did lava travel in Mount Keldur's most recent eruption?",
     "answers": ["eleven kilometres"], "sources": ["mount-keldur.txt"]},
    {"id": "keldur-sensors", "question": "How many instruments keep watch on Mount Keldur?",
     "answers": ["nine"], "sources": ["mount-keldur.txt"]},
    {"id": "vatnafell-farms", "question": "What buried the farms near Vatnafell?",
     "answers": ["ash"], "sources": ["vatnafell.txt"]},
    {"id": "ostby-diesel", "question": "When did the Ostby line switch away from steam?",
     "answers": ["1957"], "sources": ["ostby-railway.txt"]},
    {"id": "ostby-freight", "question": "What freight does the Ostby railway mainly haul nowadays?",
     "answers": ["timber"], "sources": ["ostby-railway.txt"]},
    {"id": "lunde-buses", "question": "What replaced the trams in Lunde?",
     "answers": ["buses"], "sources": ["lunde-tramway.txt"]},
    {"id": "heron-pairs", "question": "How many heron couples come back to Alder Marsh each spring?",
     "answers": ["sixty", "60"], "sources": ["alder-marsh-herons.txt"]},
    {"id": "otter-food", "question": "What do the Tern estuary otters eat?",
     "answers": ["eels"], "sources": ["tern-estuary-otters.txt"]},
    {"id": "glass-founder", "question": "Who founded the glassworks in Varde?",
     "answers": ["Henrik Varde"], "sources": ["glass-museum.txt"]},
    {"id": "mill-staff", "question": "How many workers did the Sondby mill have at most?",
     "answers": ["1,200", "1200"], "sources": ["paper-mill.txt"]},
    {"id": "keldur-follow-up", "question": "How far did its lava flow?", "turns": ["When did Mount Keldur last erupt?"],
     "answers": ["eleven kilometres"], "sources": ["mount-keldur.txt"]},
    {"id": "two-dates", "question": "When did the Corner Bakery open, and when was the Skerry Point lighthouse built?",
     "answers": ["1962", "1874"], "all_required": True, "sources": ["corner-bakery.md", "skerry-point-lighthouse.txt"]},
    # On topic, not in the documents (the near miss often has the kind of fact asked for).
    {"id": "skerry-height", "question": "How tall is the Skerry Point lighthouse?", "answerable": False},
    {"id": "skerry-colour", "question": "What colours is the Skerry Point lighthouse painted?", "answerable": False},
    {"id": "corner-founder", "question": "Who founded the Corner Bakery?", "answerable": False},
    {"id": "corner-croissants", "question": "How many croissants does the Corner Bakery sell on a Saturday?",
     "answerable": False},
    {"id": "keldur-height", "question": "How high is Mount Keldur?", "answerable": False},
    {"id": "ostby-closed", "question": "In what year did the Ostby railway close?", "answerable": False},
    {"id": "otter-count", "question": "How many otters live in the Tern estuary?", "answerable": False},
    {"id": "mill-founder", "question": "Who built the Sondby paper mill?", "answerable": False},
    # Off topic.
    {"id": "mercury", "question": "What is the boiling point of mercury?", "answerable": False},
    {"id": "markup", "question": "<script>alert('x')</script> What is the capital of Peru?", "answerable": False},
]

ON_TOPIC_UNANSWERABLE = [q["id"] for q in QUESTIONS if q.get("answerable") is False and q["id"] not in ("mercury", "markup")]
OFF_TOPIC = ["mercury", "markup"]


def write(root: Path, name: str = "quality") -> Path:
    """The documents under ``root/docs``, the questions and ``root/<name>.toml``; returns the .toml."""
    docs = root / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    for file, text in DOCS.items():
        (docs / file).write_text(text, encoding="utf-8")
    (root / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS), encoding="utf-8")
    suite = root / f"{name}.toml"
    suite.write_text(f'name = "{name}"\ncorpus = ["docs"]\nquestions = "questions.jsonl"\n')
    return suite
