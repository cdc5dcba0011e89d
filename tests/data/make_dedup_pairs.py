"""Generate ``dedup_pairs.json``: the labelled evaluation set for near-duplicate detection.

Run from the repository root: ``python tests/data/make_dedup_pairs.py`` (deterministic: the
same file every time; ``tests/test_dedup_eval.py`` checks that the committed file is current).

Every pair is two article entries (title, link, feed id, HTML body) and a label: the same
story (``duplicate: true``) or two different stories. Texts are built from news-style
sentence templates we wrote, filled from fixed word lists with a seeded random generator, so
different stories share the vocabulary, phrasing and structure that real feeds share.

Kinds (duplicates): wire copies with a few per cent of words edited; the same text wrapped in
site chrome (navigation, related links, ads, newsletter and copyright footers); syndication
copies cut to the first half plus a "read more" line; re-titled and re-ordered copies;
tracking-parameter and http/https links (short summaries matched by link); the same feed id;
an earlier and a later version of a live blog.
Kinds (different stories): the same title; a near-identical title; a long quoted statement
in both; the same newsletter footer; a recurring template (release notes, daily briefs,
market reports, weather, results) with different substance; two short items; two live blogs
of different events; a follow-up story that repeats a background paragraph; the same kind of
story in another town.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("dedup_pairs.json")
SEED = 20261129

TOWNS = [
    "Millbrook", "Harborview", "Cedar Falls", "Ashford", "Riverton", "Glenwood", "Oakridge",
    "Pine Hollow", "Stonebridge", "Willow Creek", "Maple Grove", "Eastport", "Fairhaven",
    "Northfield", "Brookside", "Kingsley", "Lakemont", "Redwater", "Silverton", "Elmhurst",
]  # fmt: skip
FIRST = [
    "Maria", "James", "Aisha", "Tomás", "Helen", "Kenji", "Priya", "Daniel", "Sofia", "Oluwaseun",
    "Grace", "Mateo", "Ingrid", "Samuel", "Leila", "Victor", "Chloe", "Ravi", "Nora", "Ibrahim",
]  # fmt: skip
LAST = [
    "Alvarez", "Okafor", "Lindqvist", "Nakamura", "Patel", "Brennan", "Moreau", "Kowalski",
    "Haddad", "Fischer", "Osei", "Romano", "Chen", "Dubois", "Walsh", "Novak", "Singh", "Costa",
    "Park", "Mensah",
]  # fmt: skip
ROLES = [
    "mayor", "council member", "fire chief", "police spokesperson", "school superintendent",
    "county commissioner", "transit director", "hospital administrator", "state senator",
    "city manager", "parks director", "public health officer",
]  # fmt: skip
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
STREETS = [
    "Main Street",
    "Elm Avenue",
    "Harbor Road",
    "Mill Lane",
    "Station Road",
    "Oak Boulevard",
    "River Drive",
    "Church Street",
    "Market Square",
    "Hill Road",
]
TEAMS = [
    "Millbrook Mariners",
    "Cedar Falls Comets",
    "Ashford Foxes",
    "Riverton Rapids",
    "Eastport Anchors",
    "Glenwood Owls",
    "Kingsley Knights",
    "Lakemont Lions",
]
COMPANIES = [
    "Northwind Foods",
    "Bluestone Energy",
    "Harbor Freight Lines",
    "Cedar Mills",
    "Valley Health Partners",
    "Summit Robotics",
    "Riverbend Paper",
    "Orchard Tech",
]
OUTLETS = [
    ("valley-courier.example", "The Valley Courier"),
    ("harbor-times.example", "Harbor Times"),
    ("news.ridgeline.example", "Ridgeline News"),
    ("www.eastport-herald.example", "Eastport Herald"),
    ("dailyglen.example", "The Daily Glen"),
    ("wire.example.org", "Valley Wire"),
]

# One story kind = a title template and sentence templates; {slots} are filled per story.
FRAMES: dict[str, dict[str, list[str]]] = {
    "council": {
        "title": [
            "{town} council approves {project}",
            "Council votes {n} to {m} on {project} in {town}",
            "{town} moves ahead with {project}",
        ],
        "lede": [
            "{town_up} — The {town} city council voted {n} to {m} on {day} night to approve "
            "{project}, ending months of debate over its cost and location.",
            "{town_up} — After a meeting that stretched past midnight, {town} council members "
            "approved {project} by a vote of {n} to {m} on {day}.",
        ],
        "body": [
            "The plan is expected to cost about ${amount} million, to be paid for with a mix "
            "of state grants and a bond measure approved by voters in {year}.",
            "{person}, the {role}, said the decision reflected years of work by residents who "
            "had asked the city to act.",
            "Opponents argued that the money would be better spent on road repairs and that "
            "the site near {street} floods every spring.",
            "Construction could begin as early as {month}, according to a timeline presented "
            "by city staff, and would take roughly {k} months.",
            "More than {big} people signed a petition in support of the project, and dozens "
            "spoke during the public comment period.",
            "{person2} cast one of the dissenting votes, saying the council had not answered "
            "questions about maintenance costs over the next {k} years.",
            "The city will hold an open house at the library on {street} to show residents "
            "the final designs before work begins.",
            "Staff estimated that the project would create about {k2} temporary jobs and "
            "{k} permanent positions once it opens.",
            "The vote follows a similar decision in {town2}, where a comparable project was "
            "approved last year after a long public fight.",
        ],
    },
    "fire": {
        "title": [
            "Fire destroys {building} in {town}",
            "Crews battle overnight blaze at {town} {building}",
            "No injuries reported after {building} fire in {town}",
        ],
        "lede": [
            "{town_up} — A fire that broke out early {day} destroyed a {building} on {street}, "
            "sending a column of smoke over the neighborhood for several hours.",
            "{town_up} — Firefighters from {k} departments spent the night fighting a blaze at "
            "a {building} near {street}, officials said {day}.",
        ],
        "body": [
            "The first call came in shortly after {hour} a.m., and crews arrived to find flames "
            "coming through the roof, according to {person}, the {role}.",
            "No one was inside the building at the time, and no injuries were reported among "
            "residents or firefighters.",
            "Neighbors on {street} were asked to keep their windows closed because of the smoke, "
            "and several nearby roads remained closed into the afternoon.",
            "The cause of the fire is under investigation, and the state fire marshal's office "
            "has been asked to assist.",
            "The owner, {person2}, said the family had run the business for {k2} years and "
            "hoped to rebuild.",
            "Damage was estimated at more than ${amount} million, though officials cautioned "
            "that the figure could change.",
            "It was the {ordinal} major fire in {town} this year, after a warehouse blaze in "
            "{month} that took two days to put out.",
            "Water pressure problems slowed the response at first, a spokesperson said, and "
            "tanker trucks were brought in from {town2}.",
        ],
    },
    "match": {
        "title": [
            "{team} beat {team2} {s1}-{s2}",
            "{team} edge {team2} in {town}",
            "Late goal lifts {team} past {team2}",
        ],
        "lede": [
            "{town_up} — The {team} beat the {team2} {s1}-{s2} on {day}, extending their "
            "unbeaten run to {k} games in front of a crowd of {big}.",
            "{town_up} — A goal in the {minute}th minute gave the {team} a {s1}-{s2} win over "
            "the {team2} on {day} night.",
        ],
        "body": [
            "{person} scored twice for the home side, including a header from a corner early "
            "in the second half.",
            "The {team2} had the better of the opening half hour but could not turn their "
            "chances into goals, hitting the post twice.",
            "Coach {person2} said afterward that the team had shown character after a difficult "
            "week of injuries.",
            "The result moves the {team} up to {ordinal} place in the table, {k} points behind "
            "the leaders with {k2} games left.",
            "Attendance was the highest of the season, helped by discounted tickets for "
            "students and a fireworks show after the final whistle.",
            "The {team2} will host the {team3} next {day2}, while the {team} travel to {town2}.",
            "A penalty appeal in stoppage time was waved away by the referee, to the fury of "
            "the visiting bench.",
            "Goalkeeper {person3} made {k} saves, several of them from close range.",
        ],
    },
    "earnings": {
        "title": [
            "{company} profit {updown} as sales {updown2}",
            "{company} reports {ordinal} quarter results",
            "{company} shares move after earnings",
        ],
        "lede": [
            "{company} said on {day} that its quarterly profit {updown} to ${amount} million, "
            "as sales {updown2} {pct} percent from a year earlier.",
            "{company} reported {ordinal}-quarter revenue of ${amount2} million on {day}, "
            "{beat} analysts' expectations.",
        ],
        "body": [
            "Chief executive {person} told analysts on a conference call that demand had "
            "{updown2} in the company's largest markets.",
            "The company raised its forecast for the full year and said it expected to hire "
            "about {k2} workers at its plant in {town}.",
            "Shares of {company} {updown} {pct2} percent in after-hours trading.",
            "Costs for raw materials and shipping remained high, the company said, but had "
            "eased since the start of the year.",
            "{company} also announced a buyback of up to ${amount} million of its stock.",
            "Analysts at a regional bank said the results showed the company was gaining market "
            "share from larger rivals.",
            "The company said it would close a distribution center in {town2} by {month} and "
            "move the work to {town}.",
            "Chief financial officer {person2} said the company had paid down ${amount} million "
            "of debt during the quarter.",
        ],
    },
    "school": {
        "title": [
            "{town} schools to {school_action}",
            "School board backs plan to {school_action}",
            "{town} parents react to plan to {school_action}",
        ],
        "lede": [
            "{town_up} — The {town} school board voted on {day} to {school_action}, a change "
            "that will affect about {big} students starting in {month}.",
            "{town_up} — Students in {town} will see a major change next year after the school "
            "board agreed to {school_action}.",
        ],
        "body": [
            "{person}, the {role}, said the district had studied the idea for {k} years and "
            "looked at similar changes in {town2}.",
            "Some parents said they worried about child care and transportation, and asked the "
            "board to delay the decision by a year.",
            "Teachers' union president {person2} said staff supported the goal but wanted more "
            "details about training and class sizes.",
            "The change is expected to cost about ${amount} million over {k} years, much of it "
            "covered by a state program.",
            "A survey sent to families last spring found that {pct} percent of respondents "
            "supported the plan.",
            "The district will hold listening sessions at each middle school in {month}.",
            "Board member {person3} voted against the plan, saying the district should focus on "
            "reading and math scores first.",
        ],
    },
    "study": {
        "title": [
            "Study links {factor} to {outcome}",
            "Researchers find {factor} may affect {outcome}",
            "New research on {factor} and {outcome}",
        ],
        "lede": [
            "People who report more {factor} are more likely to experience {outcome}, according "
            "to a study of {big} adults published on {day}.",
            "A team of researchers has found a link between {factor} and {outcome} in a study "
            "that followed participants for {k} years.",
        ],
        "body": [
            "The researchers, led by {person} of the University of {town}, cautioned that the "
            "study shows an association and not cause and effect.",
            "Participants were asked about their habits every {k2} months and underwent regular "
            "health checks.",
            "Those in the highest group had a {pct} percent greater risk than those in the "
            "lowest, after adjusting for age, income and smoking.",
            "{person2}, who studies public health at a hospital in {town2} and was not involved "
            "in the research, called the findings interesting but preliminary.",
            "The authors said larger trials were needed before making recommendations.",
            "The study was funded by a national research council and published in a "
            "peer-reviewed journal.",
            "Earlier work had produced mixed results, in part because of smaller samples.",
        ],
    },
    "storm": {
        "title": [
            "Storm knocks out power to thousands in {town}",
            "{town} cleans up after {day} storm",
            "High winds topple trees across {town}",
        ],
        "lede": [
            "{town_up} — A line of storms with gusts of up to {k3} miles per hour knocked out "
            "power to about {big} homes and businesses in {town} on {day}.",
            "{town_up} — Residents spent {day} clearing fallen branches after a storm dropped "
            "{inches} inches of rain on the area in less than three hours.",
        ],
        "body": [
            "The utility said most customers should have power back by {day2} evening, though "
            "some rural areas could wait longer.",
            "A large oak fell across {street}, crushing two parked cars, but no one was hurt.",
            "{person}, the {role}, urged people to stay away from downed lines and to report "
            "them immediately.",
            "Schools in {town} and {town2} opened two hours late to give crews time to clear "
            "bus routes.",
            "The weather service said the storm was the strongest to hit the area since {year}.",
            "Shelters were opened at the community center for residents without power who "
            "needed a place to charge phones and medical equipment.",
            "Forecasters expect drier and cooler weather for the rest of the week.",
        ],
    },
    "transit": {
        "title": [
            "{town} bus routes to change in {month}",
            "Transit agency unveils new {town} routes",
            "Riders weigh in on {town} bus overhaul",
        ],
        "lede": [
            "{town_up} — The regional transit agency will redraw {k} bus routes in {town} "
            "starting in {month}, promising buses every {k2} minutes on the busiest lines.",
            "{town_up} — Bus riders in {town} will see the biggest changes in a decade under a "
            "plan approved by the transit board on {day}.",
        ],
        "body": [
            "{person}, the {role}, said the new network was designed around where people work "
            "today rather than where they worked decades ago.",
            "Some stops on {street} will be removed, and riders there will have to walk up to "
            "a quarter mile to the nearest stop.",
            "Fares will not change, but the agency will add free transfers for up to {k2} minutes.",
            "Ridership has recovered to about {pct} percent of its level before the pandemic.",
            "Advocates for people with disabilities asked the agency to keep the door-to-door "
            "service unchanged.",
            "The agency expects the changes to cost about ${amount} million a year more to run.",
            "A route connecting {town} with {town2} will run on weekends for the first time.",
        ],
    },
}

FILL: dict[str, list[str]] = {
    "project": [
        "a new public swimming pool", "a downtown bike lane network", "a homeless shelter",
        "a riverside park", "a new police headquarters", "an affordable housing complex",
        "a community solar farm", "a new fire station", "a parking garage", "a skate park",
    ],
    "building": [
        "furniture warehouse", "family restaurant", "church hall", "hardware store",
        "vacant school", "apartment building", "auto repair shop", "bakery",
    ],
    "school_action": [
        "start classes later", "adopt a four-day week", "ban phones in class",
        "close two elementary schools", "offer free breakfast", "add a year-round calendar",
    ],
    "factor": ["sleep loss", "air pollution", "loneliness", "ultra-processed food",
               "screen time", "noise from traffic", "shift work"],
    "outcome": ["heart disease", "memory problems", "depression", "type 2 diabetes",
                "high blood pressure", "poor school grades"],
    "updown": ["rose", "fell", "jumped", "slipped", "climbed", "dropped"],
    "updown2": ["increased", "declined", "grew", "weakened", "improved", "softened"],
    "beat": ["beating", "missing", "matching", "topping"],
    "ordinal": ["second", "third", "fourth", "fifth", "first"],
}  # fmt: skip

SYNONYMS = {
    "said": "stated", "about": "roughly", "expected": "projected", "residents": "locals",
    "officials": "authorities", "plan": "proposal", "people": "residents", "major": "big",
    "began": "started", "large": "big", "several": "a number of", "urged": "asked",
    "more": "additional", "hoped": "wants", "cost": "price", "new": "fresh",
    "build": "construct", "help": "assist", "near": "close to", "week": "week's end",
}  # fmt: skip

QUOTES = [
    "“We will not accept a situation in which families have to choose between heating their "
    "homes and feeding their children, and every agency in this state will be directed to do "
    "everything in its power to make sure that help reaches the people who need it before the "
    "first frost, not after it,” the governor said in a statement.",
    "“Our community has been through a great deal over the past year, and I want every "
    "resident to know that we are listening, that we have heard the concerns raised at every "
    "meeting, and that we will not stop working until every neighborhood has the same access "
    "to safe streets, clean water and good schools,” the mayor said.",
    "“This is not a partisan issue and it never should have become one; it is about whether "
    "our children can breathe clean air and drink clean water, and I am asking every member of "
    "this body to put aside their differences and vote for the future of this region,” the "
    "senator told colleagues.",
]

FOOTERS = [
    "You are reading the Valley Morning Brief. To get it in your inbox every weekday, sign up "
    "at our website. If a friend forwarded this to you, you can subscribe for free. To stop "
    "receiving these emails, unsubscribe at any time using the link in your account settings. "
    "Questions, tips and corrections are always welcome.",
    "The Harbor Times newsroom is supported by readers like you. Become a member today and get "
    "unlimited access to every story, our daily newsletter and invitations to members-only "
    "events. Copyright 2026 Harbor Times Media. All rights reserved.",
    "This report is part of our Community Desk series, produced by reporters who live in the "
    "towns they cover and spend their days at council meetings, school board hearings and "
    "local businesses so that residents know what is happening on their own streets and in "
    "their own neighborhoods every single week of the year.",
]

CHROME_TOP = [
    "Home | News | Local | Sport | Business | Weather | Opinion",
    "Skip to main content",
    "Menu • Search • Sign in • Subscribe",
    "News » Local » {town}",
]
CHROME_BOTTOM = [
    "Advertisement",
    "Share this story: Facebook | X | Email",
    "Related: {rel1} · {rel2} · {rel3}",
    "© 2026 {outlet}. All rights reserved. This material may not be published, broadcast, "
    "rewritten or redistributed.",
    "Sign up for our daily newsletter to get the top local stories every morning.",
    "(Reporting by {person}; Editing by {person2})",
    "Tags: {town}, local news, {town2}",
    "Most read: {rel1}",
]


@dataclass
class Story:
    title: str
    paragraphs: list[str]
    frame: str
    slots: dict[str, str] = field(default_factory=dict)
    used: frozenset[str] = frozenset()  # the sentence templates it was built from


class Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.serial = 0

    def pick(self, items: list[str]) -> str:
        return self.rng.choice(items)

    def person(self) -> str:
        return f"{self.pick(FIRST)} {self.pick(LAST)}"

    def slots(self) -> dict[str, str]:
        r = self.rng
        town, town2 = r.sample(TOWNS, 2)
        team, team2, team3 = r.sample(TEAMS, 3)
        s1 = r.randint(1, 5)
        d1, d2 = r.sample(DAYS, 2)
        values = {
            "town": town,
            "town2": town2,
            "town_up": town.upper(),
            "person": self.person(),
            "person2": self.person(),
            "person3": self.person(),
            "role": self.pick(ROLES),
            "day": d1,
            "day2": d2,
            "month": self.pick(MONTHS),
            "year": str(r.randint(2009, 2024)),
            "street": self.pick(STREETS),
            "n": str(r.randint(5, 8)),
            "m": str(r.randint(1, 4)),
            "k": str(r.randint(2, 9)),
            "k2": str(r.randint(10, 60)),
            "k3": str(r.randint(45, 80)),
            "big": f"{r.randint(1, 40)},{r.randint(100, 999)}",
            "amount": f"{r.randint(2, 90)}.{r.randint(1, 9)}",
            "amount2": str(r.randint(120, 990)),
            "pct": str(r.randint(3, 40)),
            "pct2": f"{r.randint(1, 12)}.{r.randint(1, 9)}",
            "hour": str(r.randint(1, 5)),
            "minute": str(r.randint(70, 89)),
            "inches": f"{r.randint(2, 5)}.{r.randint(1, 9)}",
            "team": team,
            "team2": team2,
            "team3": team3,
            "s1": str(s1),
            "s2": str(r.randint(0, s1 - 1)),
            "company": self.pick(COMPANIES),
        }
        for key, options in FILL.items():
            values[key] = self.pick(options)
        return values

    def story(
        self,
        frame: str | None = None,
        n_body: tuple[int, int] = (4, 7),
        exclude: frozenset[str] = frozenset(),
    ) -> Story:
        """A story of ``frame`` (random if None) that uses none of the body sentence
        templates in ``exclude``: two different stories never share whole sentences."""
        name = frame or self.pick(sorted(FRAMES))
        f = FRAMES[name]
        slots = self.slots()
        pool = [b for b in f["body"] if b not in exclude]
        body = self.rng.sample(pool, min(len(pool), self.rng.randint(*n_body)))
        lede = self.pick([ld for ld in f["lede"] if ld not in exclude] or f["lede"])
        sentences = [lede, *body]
        # Group sentences into paragraphs of one or two sentences, like wire copy.
        paragraphs: list[str] = []
        i = 0
        while i < len(sentences):
            take = 1 if i == 0 or self.rng.random() < 0.6 else 2
            paragraphs.append(" ".join(s.format(**slots) for s in sentences[i : i + take]))
            i += take
        title = self.pick(f["title"]).format(**slots)
        return Story(title[0].upper() + title[1:], paragraphs, name, slots, frozenset(sentences))

    def other(
        self, first: Story, same_frame: bool = False, n_body: tuple[int, int] = (3, 5)
    ) -> Story:
        """A different story: the same kind as ``first`` when ``same_frame``."""
        frame = first.frame if same_frame else None
        return self.story(frame, n_body, exclude=first.used)

    def link(self, host: str, title: str) -> str:
        self.serial += 1
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60]
        return f"https://{host}/news/2026/{slug}-{1000 + self.serial}"


def html(paragraphs: list[str]) -> str:
    return "\n".join(f"<p>{p}</p>" for p in paragraphs)


def entry(title: str, link: str, body: str, feed_id: str | None = None) -> dict[str, Any]:
    return {"title": title, "link": link, "id": feed_id or link, "html": body}


# --- transformations ------------------------------------------------------------------------


def edit_words(g: Gen, paragraphs: list[str], rate: float) -> list[str]:
    """Change about ``rate`` of the words: synonyms, dropped and inserted words."""
    out = []
    for p in paragraphs:
        words = p.split(" ")
        new: list[str] = []
        for w in words:
            x = g.rng.random()
            bare = w.strip(".,;:")
            if x < rate / 2 and bare in SYNONYMS:
                new.append(w.replace(bare, SYNONYMS[bare]))
            elif x < rate * 0.7 and len(words) > 8:
                continue  # a dropped word
            elif x < rate:
                new.extend([w, g.pick(["also", "now", "still", "reportedly", "then"])])
            else:
                new.append(w)
        out.append(" ".join(new))
    return out


def wire_dateline(paragraphs: list[str], agency: str) -> list[str]:
    first = re.sub(r"^([A-Z ]+) — ", rf"\1 ({agency}) — ", paragraphs[0])
    return [first, *paragraphs[1:]]


def chrome(g: Gen, paragraphs: list[str], outlet: str, slots: dict[str, str]) -> str:
    other = [g.story() for _ in range(3)]
    fill = dict(slots, outlet=outlet, rel1=other[0].title, rel2=other[1].title, rel3=other[2].title)
    style = g.rng.randint(0, 2)
    top = [c.format(**fill) for c in g.rng.sample(CHROME_TOP, 2)]
    bottom = [c.format(**fill) for c in g.rng.sample(CHROME_BOTTOM, g.rng.randint(2, 4))]
    related = "".join(
        f'<li><a href="https://x.example/{i}">{s.title}</a></li>' for i, s in enumerate(other)
    )
    mid = len(paragraphs) // 2
    body = [*paragraphs[:mid], "Advertisement", *paragraphs[mid:]]
    if style == 0:  # HTML page chrome
        return (
            f"<nav>{' '.join(top)}</nav>\n{html(body)}\n<aside><h3>Related stories</h3>"
            f"<ul>{related}</ul></aside>\n<footer>{' '.join(bottom)}</footer>"
        )
    if style == 1:  # chrome flattened into paragraphs by the feed
        return html(top + body + bottom) + f"\n<ul>{related}</ul>"
    return html(top[:1] + body + bottom)


def truncate(g: Gen, paragraphs: list[str], outlet: str) -> list[str]:
    words = sum(len(p.split()) for p in paragraphs)
    kept: list[str] = []
    count = 0
    for p in paragraphs:
        if count >= words * g.rng.uniform(0.45, 0.6):
            break
        kept.append(p)
        count += len(p.split())
    tail = g.pick(
        [
            f"Read more at {outlet}.",
            f"Continue reading on {outlet} …",
            f"This story originally appeared in {outlet}. Read the full story.",
            "[…]",
        ]
    )
    return [*kept, tail]


def reorder(g: Gen, paragraphs: list[str]) -> list[str]:
    body = paragraphs[1:]
    g.rng.shuffle(body)
    return [paragraphs[0], *body]


def retitle(g: Gen, story: Story) -> str:
    f = FRAMES[story.frame]
    options = [t.format(**story.slots) for t in f["title"]]
    options = [o for o in options if o.lower() != story.title.lower()] or [story.title + " (2)"]
    t = g.pick(options)
    return t[0].upper() + t[1:]


def live_blog(g: Gen, event: str, town: str, n: int, seed_updates: list[str]) -> list[str]:
    intro = (
        f"Follow our live coverage of {event} in {town}. This page is updated as news comes in; "
        "refresh for the latest."
    )
    updates = seed_updates[:n]
    return [intro, *reversed(updates)]


def live_updates(g: Gen, n: int) -> list[str]:
    stories = [g.story() for _ in range(n)]
    out = []
    for i, s in enumerate(stories):
        t = f"{9 + i // 3}:{(i * 17) % 60:02d}"
        text = " ".join(s.paragraphs[1:3])
        out.append(f"{t} — {text}")
    return out


# --- recurring templates ------------------------------------------------------------------------


def release_notes(g: Gen, version: str, product: str) -> str:
    changes = [
        "Fixed a crash when opening files with very long names",
        "Improved start-up time on machines with many fonts installed",
        "Added support for exporting reports as spreadsheets",
        "Fixed the dark theme in the settings dialog",
        "The search box now remembers the last ten queries",
        "Updated translations for French, German and Japanese",
        "Fixed a memory leak when syncing large folders",
        "Added keyboard shortcuts for moving between tabs",
        "Removed the deprecated legacy import command",
        "Fixed printing of pages in landscape orientation",
        "Reduced battery use while the app is in the background",
        "Fixed time zones in calendar invitations",
    ]
    picked = g.rng.sample(changes, 4)
    return html(
        [
            f"{product} {version} is now available. This release includes bug fixes and "
            "improvements, and we recommend that all users upgrade as soon as possible.",
            "What's new in this release:",
            *[f"{c} (#{g.rng.randint(1000, 9999)})." for c in picked],
            f"Thank you to everyone who reported issues and tested the release candidates. "
            f"Download {product} {version} from the usual places; packages for all supported "
            "platforms are available, and the full list of changes is in the changelog.",
        ]
    )


def daily_brief(g: Gen, day: str, date: str) -> str:
    items = [g.story() for _ in range(3)]
    return html(
        [
            f"Good morning. It's {day}, {date}. Here is what you need to know in the valley "
            "today, in about five minutes of reading.",
            *[f"{s.title}. {s.paragraphs[0].split(' — ', 1)[-1]}" for s in items],
            "That's it for today. Have a good day, and we will be back tomorrow morning with "
            "everything else you need to know.",
        ]
    )


def market_close(g: Gen, day: str) -> str:
    r = g.rng
    up = r.random() < 0.5
    word = "higher" if up else "lower"
    return html(
        [
            f"Stocks closed {word} on {day} as investors weighed new economic data and the "
            "latest earnings reports from large companies.",
            f"The broad index {'rose' if up else 'fell'} {r.randint(1, 19) / 10} percent to "
            f"{r.randint(4000, 5200)}.{r.randint(10, 99)} points, while the technology index "
            f"moved {r.randint(1, 25) / 10} percent. Trading volume was "
            f"{r.randint(3, 7)}.{r.randint(1, 9)} billion shares.",
            f"The yield on the ten-year bond was {r.randint(30, 49) / 10} percent. Oil "
            f"settled at ${r.randint(60, 95)}.{r.randint(10, 99)} a barrel and gold at "
            f"${r.randint(1900, 2400)} an ounce.",
            f"Among individual stocks, {g.pick(COMPANIES)} "
            f"{'gained' if up else 'lost'} {r.randint(2, 14)} percent after its quarterly "
            "results, and shares of regional banks were mixed.",
            "Markets will watch the monthly jobs report on Friday for signs of how the economy "
            "is holding up.",
        ]
    )


def weather_column(g: Gen, day: str) -> str:
    r = g.rng
    sky = g.pick(["sunny", "cloudy", "rainy", "foggy", "windy"])
    return html(
        [
            f"Today's forecast for the valley for {day}: {sky} skies, with a high of "
            f"{r.randint(8, 31)} degrees and a low of {r.randint(-3, 12)} degrees. Winds from "
            f"the {g.pick(['north', 'south', 'east', 'west'])} at {r.randint(5, 40)} kilometres "
            "per hour.",
            f"There is a {r.randint(0, 90)} percent chance of rain in the afternoon and a "
            f"{r.randint(0, 60)} percent chance overnight. Sunrise is at 6:{r.randint(10, 59)} "
            f"and sunset at 7:{r.randint(10, 59)}.",
            f"Pollen levels are {g.pick(['low', 'moderate', 'high'])} and the air quality index "
            f"is {r.randint(10, 140)}. The UV index will peak at {r.randint(1, 10)} around noon.",
            "Check back tomorrow morning for the next forecast, and send us your weather photos.",
        ]
    )


def results_column(g: Gen, day: str) -> str:
    r = g.rng
    lines = []
    for a, b in [r.sample(TEAMS, 2) for _ in range(4)]:
        lines.append(f"{a} {r.randint(0, 5)}, {b} {r.randint(0, 5)}.")
    return html(
        [
            f"Here are the results from {day}'s games in the valley league, with the standings "
            "and the schedule for the coming week.",
            *lines,
            f"The {g.pick(TEAMS)} lead the standings with {r.randint(20, 40)} points from "
            f"{r.randint(10, 18)} games.",
            "Send results and photos from your team's games to the sports desk by Sunday night.",
        ]
    )


def short_item(g: Gen) -> tuple[str, str]:
    town, street = g.pick(TOWNS), g.pick(STREETS)
    kind = g.rng.randint(0, 3)
    if kind == 0:
        return (
            "Road closure",
            f"{street} in {town} will be closed between {g.pick(STREETS)} and "
            f"{g.pick(STREETS)} from {g.rng.randint(7, 10)} a.m. until {g.rng.randint(2, 6)} "
            "p.m. for repairs. Use the signed detour.",
        )
    if kind == 1:
        return (
            "Boil water notice",
            f"Residents of {town} east of {street} should boil tap water before drinking "
            f"until further notice after a main break, the water department said.",
        )
    if kind == 2:
        return (
            "Weather update",
            f"A frost advisory is in effect for {town} from midnight until {g.rng.randint(7, 9)} "
            "a.m. Cover sensitive plants and bring pets indoors.",
        )
    return (
        "Lost dog",
        f"A brown and white terrier named {g.pick(FIRST)} went missing near {street} in {town}. "
        "Call the shelter if you see him.",
    )


# --- pairs ----------------------------------------------------------------------------------


def build() -> list[dict[str, Any]]:
    g = Gen(SEED)
    pairs: list[dict[str, Any]] = []

    def add(kind: str, dup: bool, a: dict[str, Any], b: dict[str, Any]) -> None:
        pairs.append(
            {"id": f"{kind}-{len(pairs):03d}", "kind": kind, "duplicate": dup, "a": a, "b": b}
        )

    def outlets() -> tuple[tuple[str, str], tuple[str, str]]:
        a, b = g.rng.sample(OUTLETS, 2)
        return a, b

    # Duplicates -------------------------------------------------------------------------
    for i in range(40):  # wire copies, 2-6 % of words edited
        s = g.story()
        (ha, na), (hb, nb) = outlets()
        rate = [0.02, 0.03, 0.04, 0.06][i % 4]
        pa = wire_dateline(s.paragraphs, "AP")
        pb = wire_dateline(edit_words(g, s.paragraphs, rate), g.pick(["Reuters", "VW"]))
        title_b = retitle(g, s) if i % 2 else s.title
        add(
            f"wire-edit-{int(rate * 100)}pct",
            True,
            entry(s.title, g.link(ha, s.title), html(pa)),
            entry(title_b, g.link(hb, title_b), html(pb)),
        )
    for i in range(35):  # chrome around the same text
        s = g.story()
        (ha, na), (hb, nb) = outlets()
        a_body = html(s.paragraphs) if i % 3 else chrome(g, s.paragraphs, na, s.slots)
        text_b = edit_words(g, s.paragraphs, 0.02) if i % 4 == 0 else s.paragraphs
        add(
            "chrome",
            True,
            entry(s.title, g.link(ha, s.title), a_body),
            entry(s.title, g.link(hb, s.title), chrome(g, text_b, nb, s.slots)),
        )
    for _ in range(30):  # syndication: first half + read more
        s = g.story(n_body=(6, 9))
        (ha, na), (hb, nb) = outlets()
        add(
            "truncated",
            True,
            entry(s.title, g.link(ha, s.title), html(s.paragraphs)),
            entry(s.title, g.link(hb, s.title), html(truncate(g, s.paragraphs, na))),
        )
    for _ in range(25):  # re-titled and re-ordered
        s = g.story()
        (ha, _), (hb, _) = outlets()
        t2 = retitle(g, s)
        add(
            "retitled-reordered",
            True,
            entry(s.title, g.link(ha, s.title), html(s.paragraphs)),
            entry(t2, g.link(hb, t2), html(reorder(g, s.paragraphs))),
        )
    for i in range(20):  # tracking parameters, http/https; B is only a short summary
        s = g.story()
        (ha, _), (hb, _) = outlets()
        link = g.link(ha, s.title)
        variant = [
            link.replace("https://", "http://") + "?utm_source=rss&utm_medium=feed",
            link + "?fbclid=IwAR3x9&ref=homepage#comments",
            link.replace("https://", "HTTP://").replace("/news/", "/news/./") + "/",
            link + "/index.html?gclid=abc123&mc_cid=9f8e&mc_eid=77",
        ][i % 4]
        summary = f"<p>{s.paragraphs[0].split(' — ', 1)[-1]}</p>"
        add(
            "tracking-link",
            True,
            entry(s.title, link, html(s.paragraphs)),
            entry(retitle(g, s), variant, summary, f"urn:{hb}:{i}"),
        )
    for i in range(10):  # the same feed id (a wire guid), different links
        s = g.story()
        (ha, _), (hb, _) = outlets()
        guid = f"tag:wire.example.org,2026:story-{5000 + i}"
        add(
            "same-feed-id",
            True,
            entry(s.title, g.link(ha, s.title), html(s.paragraphs), guid),
            entry(s.title, g.link(hb, s.title), f"<p>{s.paragraphs[0]}</p>", guid),
        )
    for _ in range(15):  # live blog: earlier and later version, from two outlets
        updates = live_updates(g, 10)
        town = g.pick(TOWNS)
        event = g.pick(["the election count", "the storm", "the flood", "the marathon"])
        (ha, _), (hb, _) = outlets()
        n1 = g.rng.randint(5, 7)
        title = f"Live: {event} in {town}"
        add(
            "live-blog-versions",
            True,
            entry(title, g.link(ha, title), html(live_blog(g, event, town, n1, updates))),
            entry(
                title + " \u2013 latest",
                g.link(hb, title),
                html(live_blog(g, event, town, n1 + g.rng.randint(1, 3), updates)),
            ),
        )

    # Different stories ----------------------------------------------------------------------
    for _ in range(25):  # the same title
        s1 = g.story(n_body=(3, 5))
        s2 = g.other(s1)
        (ha, _), (hb, _) = outlets()
        title = g.pick(
            [
                "Weather update",
                "Council meeting",
                "Breaking news",
                "Local news",
                "Fire on " + g.pick(STREETS),
                "Match report",
                s1.title,
            ]
        )
        add(
            "same-title",
            False,
            entry(title, g.link(ha, title), html(s1.paragraphs)),
            entry(title, g.link(hb, title), html(s2.paragraphs)),
        )
    for _ in range(20):  # near-identical title, same kind of story
        s1 = g.story(n_body=(3, 4))
        s2 = g.other(s1, same_frame=True)
        (ha, _), (hb, _) = outlets()
        t2 = (
            s1.title.replace(s1.slots["town"], s2.slots["town"])
            if s1.slots["town"] in s1.title
            else s1.title + " again"
        )
        add(
            "near-title",
            False,
            entry(s1.title, g.link(ha, s1.title), html(s1.paragraphs)),
            entry(t2, g.link(hb, t2), html(s2.paragraphs)),
        )
    for i in range(25):  # a long quoted statement in both
        quote = QUOTES[i % len(QUOTES)]
        s1 = g.story(n_body=(2, 4))
        s2 = g.other(s1, same_frame=i % 2 == 0, n_body=(2, 4))
        (ha, _), (hb, _) = outlets()
        p1 = [*s1.paragraphs[:2], quote, *s1.paragraphs[2:]]
        p2 = [s2.paragraphs[0], quote, *s2.paragraphs[1:]]
        add(
            "shared-quote",
            False,
            entry(s1.title, g.link(ha, s1.title), html(p1)),
            entry(s2.title, g.link(hb, s2.title), html(p2)),
        )
    for i in range(25):  # the same newsletter footer
        footer = FOOTERS[i % len(FOOTERS)]
        s1 = g.story(n_body=(2, 5))
        s2 = g.other(s1, n_body=(2, 5))
        (ha, _), _ = outlets()
        add(
            "newsletter-footer",
            False,
            entry(s1.title, g.link(ha, s1.title), html([*s1.paragraphs, footer])),
            entry(s2.title, g.link(ha, s2.title), html([*s2.paragraphs, footer])),
        )
    for i in range(40):  # recurring templates with different substance
        (ha, _), _ = outlets()
        d1, d2 = g.rng.sample(DAYS, 2)
        kind = i % 5
        if kind == 0:
            product = g.pick(["Inkwell", "Tidepool", "Lantern", "Quarry"])
            maj = g.rng.randint(1, 5)
            v1, v2 = f"{maj}.{g.rng.randint(0, 9)}.1", f"{maj}.{g.rng.randint(0, 9)}.2"
            t1, t2 = f"{product} {v1} released", f"{product} {v2} released"
            b1, b2 = release_notes(g, v1, product), release_notes(g, v2, product)
        elif kind == 1:
            t1 = t2 = "Your morning briefing"
            b1 = daily_brief(g, d1, f"{g.pick(MONTHS)} {g.rng.randint(1, 28)}")
            b2 = daily_brief(g, d2, f"{g.pick(MONTHS)} {g.rng.randint(1, 28)}")
        elif kind == 2:
            t1, t2 = "Markets close", "Markets close"
            b1, b2 = market_close(g, d1), market_close(g, d2)
        elif kind == 3:
            t1, t2 = "Today's weather", "Today's weather"
            b1, b2 = weather_column(g, d1), weather_column(g, d2)
        else:
            t1, t2 = f"{d1} results", f"{d2} results"
            b1, b2 = results_column(g, d1), results_column(g, d2)
        add("template", False, entry(t1, g.link(ha, t1), b1), entry(t2, g.link(ha, t2), b2))
    for _ in range(20):  # short items
        (t1, b1), (t2, b2) = short_item(g), short_item(g)
        (ha, _), (hb, _) = outlets()
        add(
            "short-items",
            False,
            entry(t1, g.link(ha, t1), f"<p>{b1}</p>"),
            entry(t2, g.link(hb, t2), f"<p>{b2}</p>"),
        )
    for _ in range(10):  # live blogs of different events
        (ha, _), (hb, _) = outlets()
        town = g.pick(TOWNS)
        event = g.pick(["the election count", "the storm", "the flood", "the marathon"])
        b1 = html(live_blog(g, event, town, 6, live_updates(g, 6)))
        b2 = html(live_blog(g, event, town, 6, live_updates(g, 6)))
        title = f"Live: {event} in {town}"
        add(
            "live-blog-different",
            False,
            entry(title, g.link(ha, title), b1),
            entry(title, g.link(hb, title), b2),
        )
    for _ in range(15):  # follow-up story repeating a background paragraph
        s1 = g.story(n_body=(4, 5))
        s2 = g.other(s1, same_frame=True, n_body=(3, 4))
        (ha, _), (hb, _) = outlets()
        background = s1.paragraphs[1]
        p2 = [*s2.paragraphs[:2], background, *s2.paragraphs[2:]]
        t2 = "Update: " + s1.title
        add(
            "follow-up",
            False,
            entry(s1.title, g.link(ha, s1.title), html(s1.paragraphs)),
            entry(t2, g.link(hb, t2), html(p2)),
        )
    for _ in range(20):  # the same kind of story, somewhere else
        s1 = g.story(n_body=(3, 4))
        s2 = g.other(s1, same_frame=True)
        (ha, _), (hb, _) = outlets()
        add(
            "same-frame",
            False,
            entry(s1.title, g.link(ha, s1.title), html(s1.paragraphs)),
            entry(s2.title, g.link(hb, s2.title), html(s2.paragraphs)),
        )
    return pairs


def main() -> None:
    pairs = build()
    text = json.dumps(
        {"seed": SEED, "generator": "tests/data/make_dedup_pairs.py", "pairs": pairs},
        ensure_ascii=False,
        indent=0,
    )
    OUT.write_text(text + "\n", encoding="utf-8")
    dups = sum(p["duplicate"] for p in pairs)
    print(f"wrote {OUT.name}: {len(pairs)} pairs ({dups} duplicates), {len(text)} bytes")


if __name__ == "__main__":
    main()
