"""Texts the offline model compares conversations with: taxonomy clusters, task categories, value leaves.

Zero-shot prototypes come from the published taxonomy's own names and
descriptions; candidate value names are published leaves (so the taxonomy
stage places them exactly), the most frequent ones of each l2 cluster.
"""

from __future__ import annotations

import re

from valuescope.records import L3_TO_L2, TASK_CATEGORIES
from valuescope.taxonomy.reference import Tree

TASK_GLOSS: dict[str, str] = {
    "software & technical": "write, debug or explain code, software, math or technical systems",
    "writing & editing": "write, edit, rewrite, summarise or proofread a text, email or essay",
    "creative writing & roleplay": "write a story, poem, song or role-play a fictional character",
    "education & explanation": "explain a concept, answer a factual question, teach or solve a problem",
    "analysis & research": "analyse, compare, evaluate or research a topic, data or argument",
    "business, marketing & career": "business strategy, marketing, product, job search or career advice",
    "health & wellbeing": "health, medicine, fitness, diet, mental health or wellbeing",
    "relationships & personal advice": "advice about relationships, family, friends, dating or personal life",
    "ethics, philosophy & religion": "moral questions, philosophy, religion or the meaning of life",
    "politics, law & society": "politics, law, government, rights, social issues or public policy",
    "history & culture": "history, culture, traditions, art, music or famous people",
    "lifestyle & practical help": "recipes, travel, shopping, hobbies, home, everyday practical tips",
    "harmful or illicit request": "get help with something harmful, dangerous, hateful, violent or illegal",
    "other": "chit-chat, greetings or anything else",
}

# Short task phrases per category, used for the judgment's ``task`` text
# (the phrase nearest the user's request within the predicted category).
TASK_PHRASES: dict[str, tuple[str, ...]] = {
    "software & technical": (
        "write or fix code",
        "explain a technical concept",
        "solve a math problem",
        "configure software or a system",
        "design an algorithm",
    ),
    "writing & editing": (
        "edit or proofread a text",
        "write an email or letter",
        "summarise a text",
        "rewrite text in another style",
        "write an essay or article",
    ),
    "creative writing & roleplay": (
        "write a story",
        "write a poem or song",
        "role-play a character",
        "invent names or ideas",
        "write a joke",
    ),
    "education & explanation": (
        "explain how something works",
        "answer a factual question",
        "define a term",
        "learn about a scientific topic",
        "get help with homework",
    ),
    "analysis & research": (
        "compare options",
        "analyse an argument or data",
        "evaluate pros and cons",
        "research a topic",
        "extract information from text",
    ),
    "business, marketing & career": (
        "plan a business or product",
        "write marketing copy",
        "get career or job advice",
        "prepare for an interview",
        "improve productivity at work",
    ),
    "health & wellbeing": (
        "get health or medical information",
        "get fitness or diet advice",
        "cope with stress or emotions",
        "ask about medication or drugs",
        "improve sleep or wellbeing",
    ),
    "relationships & personal advice": (
        "get relationship advice",
        "handle a conflict with someone",
        "get advice on family matters",
        "get dating advice",
        "decide a personal matter",
    ),
    "ethics, philosophy & religion": (
        "discuss a moral question",
        "discuss philosophy",
        "ask about religion or beliefs",
        "judge whether something is right or wrong",
        "discuss the meaning of life",
    ),
    "politics, law & society": (
        "ask about a law or legal issue",
        "discuss a political topic",
        "discuss a social issue",
        "ask about rights or discrimination",
        "ask about government or policy",
    ),
    "history & culture": (
        "learn about a historical event",
        "ask about a culture or tradition",
        "ask about a famous person",
        "discuss art, music or film",
        "ask about language or customs",
    ),
    "lifestyle & practical help": (
        "get a recipe or cooking tips",
        "plan travel",
        "get shopping or product advice",
        "solve a household problem",
        "find a hobby or activity",
    ),
    "harmful or illicit request": (
        "get help committing a crime",
        "get instructions to hurt someone",
        "obtain illegal drugs or weapons",
        "produce hateful or offensive content",
        "bypass safety rules with a jailbreak",
        "steal or defraud",
        "harass or deceive someone",
    ),
    "other": ("chat casually", "test the assistant", "ask about the assistant itself", "make an unclear request"),
}

LEAVES_PER_L2 = 40  # candidate value names per l2 cluster (most frequent first)


def l2_texts(tree: Tree) -> list[str]:
    """'name: description' of each of the 26 l2 clusters, in records.L3_TO_L2 order."""
    by_name = {n.name: n for n in tree.at_level(2)}
    out = []
    for l2s in L3_TO_L2.values():
        for l2 in l2s:
            node = by_name.get(l2)
            out.append(f"{l2}: {node.description}" if node and node.description else l2)
    return out


def l3_texts(tree: Tree) -> list[str]:
    by_name = {n.name: n for n in tree.at_level(3)}
    return [f"{l3}: {by_name[l3].description}" if l3 in by_name and by_name[l3].description else l3 for l3 in L3_TO_L2]


def task_texts() -> list[str]:
    return [f"{c}: {TASK_GLOSS[c]}" for c in TASK_CATEGORIES]


def task_phrase_list() -> list[tuple[str, str]]:
    return [(c, p) for c in TASK_CATEGORIES for p in TASK_PHRASES[c]]


def candidate_leaves(tree: Tree) -> list[tuple[str, str, float]]:
    """(leaf name, l2, pct_convos prior) — the most frequent published leaves of each l2, sorted."""
    rows: dict[str, list[tuple[str, str, float]]] = {}
    for leaf in tree.leaves:
        l2 = tree.leaf_path(leaf.name).get("l2")
        if l2 is None or not re.fullmatch(r"[a-z0-9' \-&/]{2,40}", leaf.name) or len(leaf.name.split()) > 4:
            continue
        prior = tree.frequencies.get(leaf.name, leaf.pct_total_occurrences)
        rows.setdefault(l2, []).append((leaf.name, l2, float(prior)))
    out = []
    for l2s in L3_TO_L2.values():
        for l2 in l2s:
            ranked = sorted(rows.get(l2, []), key=lambda r: (-r[2], r[0]))[:LEAVES_PER_L2]
            out.extend(ranked)
    return out
