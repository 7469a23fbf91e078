"""The built-in discussion prompts posted in joint marketing and IT check-ins, and how they rotate.

Pure Python on purpose: no Slack and no SQLAlchemy here, so the library can be tested alone and the
database can store nothing but the stable strings defined here (theme slugs and prompt keys).

Stability rules, because both kinds of string end up in the database:

* a `Theme` slug never changes once released (users also type them: `/tandem prompts add data ...`);
* a `Prompt.key` never changes and is never reused; a retired prompt is deleted, not renumbered,
  and new prompts take the next free number of their theme.

Rotation (`choose_next_prompt`) follows one rule: a ritual never repeats a prompt until every prompt
of its themes has been used. See that function for how changes to the candidate set are handled.
"""

from __future__ import annotations

import enum
import random
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar, runtime_checkable

__all__ = [
    "BUILTIN_PROMPTS",
    "MAX_PRACTICE_LENGTH",
    "MAX_TEXT_LENGTH",
    "ONE_TO_ONE_PROMPTS",
    "THEME_DESCRIPTIONS",
    "THEME_TITLES",
    "OneToOnePrompt",
    "Prompt",
    "PromptLike",
    "Source",
    "Theme",
    "choose_next_prompt",
    "get_one_to_one_prompt",
    "get_prompt",
    "keys_used_in_current_cycle",
    "one_to_one_prompt",
    "parse_theme",
    "prompts_for_themes",
]

MAX_TEXT_LENGTH = 280
MAX_PRACTICE_LENGTH = 200


class Theme(enum.StrEnum):
    """What a prompt is about. Values are stored in the database and typed by users: never rename."""

    DATA = "data"
    CUSTOMER = "customer"
    VISION = "vision"
    AGREEMENT = "agreement"
    SPEED = "speed"
    SKILLS = "skills"
    KPIS = "kpis"
    BUDGET = "budget"
    MESSAGE = "message"
    CREDIT = "credit"
    LANGUAGE = "language"
    ROLES = "roles"

    @property
    def label(self) -> str:
        """The human title, e.g. "Data and analytics" (`title` would shadow `str.title`)."""
        return THEME_TITLES[self]

    @property
    def description(self) -> str:
        return THEME_DESCRIPTIONS[self]


THEME_TITLES: dict[Theme, str] = {
    Theme.DATA: "Data and analytics",
    Theme.CUSTOMER: "Customer experience",
    Theme.VISION: "Digital vision",
    Theme.AGREEMENT: "Working agreement",
    Theme.SPEED: "Speed versus stability",
    Theme.SKILLS: "Cross-training and skills",
    Theme.KPIS: "Shared KPIs and incentives",
    Theme.BUDGET: "Budget and tools",
    Theme.MESSAGE: "Message versus medium",
    Theme.CREDIT: "Giving credit for results",
    Theme.LANGUAGE: "Common language",
    Theme.ROLES: "Roles and expertise",
}

THEME_DESCRIPTIONS: dict[Theme, str] = {
    Theme.DATA: "Capturing, sharing and actually using customer and campaign data.",
    Theme.CUSTOMER: "Building one seamless customer experience across every channel and system.",
    Theme.VISION: "Marketing sharing where it wants to go, and IT shaping how to get there.",
    Theme.AGREEMENT: "Agreed ways of working: intake, ownership, escalation and what done means.",
    Theme.SPEED: "Balancing marketing's need for pace with IT's need for reliability and safety.",
    Theme.SKILLS: "Teaching each other: analytics for marketers, marketing sense for technologists.",
    Theme.KPIS: "Measuring and rewarding both teams on the same customer and revenue outcomes.",
    Theme.BUDGET: "Choosing, funding, integrating and retiring the marketing technology stack.",
    Theme.MESSAGE: "Marketing owns what is said; IT helps decide how it is delivered and measured.",
    Theme.CREDIT: "Celebrating joint wins together and not pinning setbacks on one side.",
    Theme.LANGUAGE: "Shared definitions and plain words so both sides mean the same thing.",
    Theme.ROLES: "Trusting each side's expertise and being clear about who leads what.",
}


class Source(enum.Enum):
    """Where a prompt's "why" (and a theme question) comes from: an article by its title, or Tandem.

    Titles as the articles give them (the texts are in the project's shared seeds), so a reader can
    tell the articles' advice from Tandem's own.
    """

    NEW_NORM = "Making CMO and CIO Partnerships the New Norm"
    ALLY = "How to make an ally of your CMO"
    NEED_OF_THE_HOUR = "Why the CMO and CIO Collaboration is the Need of the Hour in the MarTech Space?"
    CURRENT_STATE = "The current state of the CMO-CIO Relationship"
    WHAT_THE_CIO_WANTS = "CMOs, Here’s What The CIO Wants To Hear From You"
    TANDEM = ""  # Tandem's own advice, from no article

    @property
    def credit(self) -> str:
        """How a "why" names it: "From “<title>”." or "Tandem's own advice."."""
        return f"From “{self.value}”." if self.value else "Tandem's own advice."


@dataclass(frozen=True, slots=True)
class Prompt:
    """A built-in prompt. `key` is stored as the rotation record: stable, unique, never renumbered."""

    key: str
    theme: Theme
    text: str
    practice: str
    source: Source = Source.TANDEM

    @property
    def why(self) -> str:
        """The practice with its source, as a check-in shows it."""
        return f"{self.practice} {self.source.credit}"


@runtime_checkable
class PromptLike(Protocol):
    """Anything rotation can choose from: a built-in `Prompt` or a workspace prompt from the database.

    Workspace prompts use keys like "ws-17" and a plain theme slug string; `Theme` is a `str`, so
    both compare equal to the slug.
    """

    @property
    def key(self) -> str: ...

    @property
    def theme(self) -> str: ...


P = TypeVar("P", bound=PromptLike)


def _p(key: str, text: str, practice: str, source: Source = Source.TANDEM) -> Prompt:
    return Prompt(key=key, theme=Theme(key.rsplit("-", 1)[0]), text=text, practice=practice, source=source)


BUILTIN_PROMPTS: tuple[Prompt, ...] = (
    # --- Data and analytics -------------------------------------------------------------------------
    _p(
        "data-01",
        "Name one customer question marketing could not answer this month because the data was missing, "
        "late or scattered. What would IT need to capture it, and what would marketing do with the answer?",
        "Teams that define data needs together get analytics they actually use.",
        Source.NEED_OF_THE_HOUR,
    ),
    _p(
        "data-02",
        "Pick one dashboard marketing opens every week. Does anyone in IT know which decisions it drives, "
        "and is any part of it quietly unreliable?",
        "Pipelines get looked after when the people running them know which decisions depend on them.",
    ),
    _p(
        "data-03",
        "Think of the last campaign where the numbers arrived too late to change anything. Where between "
        "capture and insight did the delay happen, and who could shorten that step?",
        "Insight that lands after the decision is only a history lesson; fix the slowest link first.",
        Source.NEW_NORM,
    ),
    _p(
        "data-04",
        "Which customer data do we collect but never analyse? Choose one item and decide together whether "
        "to start using it or stop collecting it.",
        "Unused data costs money and adds privacy risk; every field we store should earn its place.",
        Source.NEW_NORM,
    ),
    _p(
        "data-05",
        "Marketing: share one assumption behind a recent analysis that you are unsure of. IT: suggest one "
        "way to check it against the raw data before the next decision.",
        "Marketers bring context and technologists bring rigour; results improve when each tests the "
        "other's assumptions.",
        Source.NEED_OF_THE_HOUR,
    ),
    _p(
        "data-06",
        "If we could join just two of our customer data sources next quarter, which two would help "
        "campaigns most, and what stands in the way technically?",
        "Fragmented data is a common blocker; connecting the right two sources often "
        "beats a big new platform.",
        Source.WHAT_THE_CIO_WANTS,
    ),
    # --- Customer experience ------------------------------------------------------------------------
    _p(
        "customer-01",
        "Walk through the most recent customer complaint about a digital touchpoint. Which part was a "
        "marketing choice, which was a system limit, and who is fixing it?",
        "Customers see one company; tracing a pain point across both teams stops it "
        "falling through the gaps.",
        Source.WHAT_THE_CIO_WANTS,
    ),
    _p(
        "customer-02",
        "Pick one journey, such as sign-up or renewal, and list every system and message it touches. "
        "Where does it feel like the customer is dealing with two different companies?",
        "Mapping a journey end to end shows where ownership changes hands, which is usually where it breaks.",
        Source.CURRENT_STATE,
    ),
    _p(
        "customer-03",
        "When did someone from IT last watch a real customer use our website or app? Plan one session "
        "in the next month that people from both teams attend.",
        "Watching customers struggle first-hand builds shared urgency faster than any requirements document.",
    ),
    _p(
        "customer-04",
        "What do customers ask for again and again that neither team clearly owns today? Decide who takes "
        "the first step and by when.",
        "Requests nobody owns are the ones customers notice most; naming an owner is the cheapest fix.",
    ),
    _p(
        "customer-05",
        "If a customer moves from phone to web to email in one day, what do they have to repeat? Choose "
        "one handoff to make smooth this quarter.",
        "Consistency across channels comes from shared data and shared design, not from each channel alone.",
        Source.CURRENT_STATE,
    ),
    # --- Digital vision -----------------------------------------------------------------------------
    _p(
        "vision-01",
        "Marketing: describe in three sentences where the customer relationship should be in two years. "
        "IT: which of today's systems would help get there, and which would hold us back?",
        "IT can only plan for a direction it has heard; sharing the destination turns "
        "requests into a roadmap.",
        Source.CURRENT_STATE,
    ),
    _p(
        "vision-02",
        "Which channel or platform could matter to our customers within a year that we do not use yet? "
        "Agree who will look into it and what a small first experiment would be.",
        "Spotting new channels early is a joint job: marketing senses demand, IT judges what it takes.",
        Source.CURRENT_STATE,
    ),
    _p(
        "vision-03",
        "Look at the top three requests marketing sent IT last quarter. Do they point in one direction, "
        "or were they unrelated one-off fixes? What does that tell us?",
        "When requests look unrelated, the strategy behind them has usually not been shared.",
        Source.CURRENT_STATE,
    ),
    _p(
        "vision-04",
        "IT: which technology shift do you see coming that marketing should think about now? Marketing: "
        "what would you need to know to judge whether it matters for customers?",
        "Vision flows both ways; technologists often see enabling changes before they reach marketing.",
        Source.ALLY,
    ),
    _p(
        "vision-05",
        "Do we treat digital as one more campaign channel or as a way to change how the business works? "
        "Name one decision this quarter where that difference matters.",
        "Treating digital as a lever for the business model, not just a channel, changes "
        "what both teams build.",
        Source.CURRENT_STATE,
    ),
    # --- Working agreement --------------------------------------------------------------------------
    _p(
        "agreement-01",
        "How does a marketing request reach IT today, and how long until it gets a first answer? Agree "
        "on one change that would make intake clearer for both sides.",
        "A written, agreed way of working means neither side has to guess what the other expects.",
        Source.ALLY,
    ),
    _p(
        "agreement-02",
        "Think of the last project that slipped. Was it clear from the start who set scope, who approved "
        "changes and who updated stakeholders? Write down what the answers should have been.",
        "Most blame after a delay comes from roles nobody agreed up front.",
        Source.ALLY,
    ),
    _p(
        "agreement-03",
        "What does done mean when IT hands something over to marketing? Agree on two or three criteria, "
        "such as tested, documented and measurable, for the next delivery.",
        "A shared definition of done stops launches that are finished for one team and broken for the other.",
    ),
    _p(
        "agreement-04",
        "When priorities collide, say a campaign deadline and a security patch, who makes the call and how "
        "fast? Sketch a simple escalation path you would both accept.",
        "Deciding how to break ties before a conflict happens keeps the conflict about the work, not people.",
    ),
    _p(
        "agreement-05",
        "Review our working agreement, or admit we do not have one yet. What is one promise each team "
        "could make to the other for the next quarter?",
        "Explicit commitments, revisited regularly, keep the partnership from sliding "
        "back into a ticket queue.",
    ),
    # --- Speed versus stability ---------------------------------------------------------------------
    _p(
        "speed-01",
        "Think of the last launch that slipped. Which part of the delay came from process, which from "
        "technical risk, and which from a late change in goals? Pick one to tackle first.",
        "Naming the real cause of a delay beats arguing about whether IT is slow or marketing is chaotic.",
    ),
    _p(
        "speed-02",
        "Which marketing changes could safely go live without a full IT release, such as copy, images or "
        "landing pages? Agree on the guardrails that would make that possible.",
        "Self-service within agreed guardrails frees IT for hard problems and lets marketing move fast.",
        Source.NEED_OF_THE_HOUR,
    ),
    _p(
        "speed-03",
        "Marketing: when did a goal change mid-project recently, and what drove it? IT: what did the change "
        "cost? Discuss how such shifts could be flagged earlier.",
        "Moving targets frustrate delivery teams; explaining why goals change lets both sides plan for it.",
        Source.CURRENT_STATE,
    ),
    _p(
        "speed-04",
        "What would a two-week experiment look like for the next campaign idea, with a lighter process in "
        "exchange for a smaller scope? Agree where that line sits.",
        "Small, time-boxed experiments give marketing speed without asking IT to gamble on stability.",
    ),
    _p(
        "speed-05",
        "IT: which stability or security rule do marketers most often see as red tape? Explain the risk "
        "behind it. Marketing: suggest a way to meet it with less waiting.",
        "Rules get followed, and improved, when the people bound by them understand the risk they prevent.",
    ),
    # --- Cross-training and skills ------------------------------------------------------------------
    _p(
        "skills-01",
        "What is one analytics skill marketing wishes it had in-house, and who in IT could run a short "
        "workshop on it this quarter?",
        "Short workshops run by in-house experts are a cheap, fast way to build marketers' data skills.",
        Source.NEW_NORM,
    ),
    _p(
        "skills-02",
        "IT: what would you like to understand about how campaigns are planned or measured, so your team "
        "makes better technical calls? Who in marketing could explain it?",
        "Technologists who understand the funnel design systems that fit how marketing really works.",
        Source.NEW_NORM,
    ),
    _p(
        "skills-03",
        "Could one person from each team spend a day shadowing the other within the next month? Name the "
        "people and pick the day.",
        "A day inside the other team's routine builds more empathy than a year of status meetings.",
        Source.NEW_NORM,
    ),
    _p(
        "skills-04",
        "For the next hire on either side, what hybrid skills should we look for, such as a marketer who "
        "can query data or an engineer who understands funnels? Discuss one open or upcoming role.",
        "Hiring for skills that bridge both functions builds the partnership into the org chart.",
        Source.NEW_NORM,
    ),
    _p(
        "skills-05",
        "Who on either team is already good at bridging both worlds? How can we recognise that, and give "
        "them more room to do it?",
        "People who translate between teams and settle disagreements are rare; find them and let them lead.",
        Source.NEED_OF_THE_HOUR,
    ),
    # --- Shared KPIs and incentives -----------------------------------------------------------------
    _p(
        "kpis-01",
        "Name one metric both teams would be proud to move together this quarter. Who owns each part of "
        "moving it, and where will we both watch it?",
        "A shared number turns two to-do lists into one goal.",
        Source.CURRENT_STATE,
    ),
    _p(
        "kpis-02",
        "Which IT targets, like uptime or tickets closed, could be met while marketing still misses its "
        "goals? Is there a shared outcome we could add alongside them?",
        "When each team is measured only on its own output, both can succeed while the customer loses.",
        Source.CURRENT_STATE,
    ),
    _p(
        "kpis-03",
        "Are any objectives or bonuses on either side pulling in opposite directions? Bring one example "
        "and discuss how to bring it into line.",
        "Incentives beat intentions; if rewards point apart, collaboration will not last.",
        Source.CURRENT_STATE,
    ),
    _p(
        "kpis-04",
        "Look at the last quarterly review: did marketing results mention any IT contribution, or IT "
        "results any marketing outcome? What would a joint scorecard have shown?",
        "Reporting results jointly makes shared work visible to leadership and to both teams.",
    ),
    _p(
        "kpis-05",
        "For the next big initiative, agree on one customer-facing measure of success before work starts. "
        "How will we check it, and when?",
        "Agreeing on success up front prevents each side declaring victory by a different yardstick.",
    ),
    # --- Budget and tools ---------------------------------------------------------------------------
    _p(
        "budget-01",
        "List the marketing tools we pay for today. Which overlap, which are barely used, and which do not "
        "share data with the rest? Choose one to retire or connect.",
        "An integrated set of fewer tools usually beats a sprawl of disconnected ones.",
        Source.ALLY,
    ),
    _p(
        "budget-02",
        "Marketing: which tool are you thinking of buying in the next six months? IT: what would you want "
        "to know first about integration, security and data?",
        "Bringing IT in before a purchase is cheaper than bringing it in after the contract is signed.",
    ),
    _p(
        "budget-03",
        "Think of the last tool bought without IT involved, or built without marketing input. What did it "
        "cost us later, and what quick check would have caught it?",
        "A lightweight joint review of new tools prevents shadow systems and unused builds.",
    ),
    _p(
        "budget-04",
        "If we could move a tenth of next year's marketing technology budget, where would each team put it? "
        "Compare the answers and look for the overlap.",
        "Where both teams would spend the same money is a good sign of a shared priority.",
    ),
    _p(
        "budget-05",
        "Who pays to keep a marketing system running after launch: licences, integrations, support? Agree "
        "how those running costs are planned in the next budget cycle.",
        "Budgeting for the whole life of a system, not only its launch, avoids orphaned tools.",
    ),
    # --- Message versus medium ----------------------------------------------------------------------
    _p(
        "message-01",
        "Marketing: is there anywhere IT seems to be stepping into messaging or creative decisions? IT: "
        "where do you hold back ideas because you worry about overstepping?",
        "Naming the boundary openly lets IT contribute ideas without marketing feeling its job is taken.",
        Source.ALLY,
    ),
    _p(
        "message-02",
        "For the next campaign, draw the line: marketing owns what is said and to whom; IT owns how it is "
        "delivered, tracked and scaled. Where is that line blurry?",
        "Marketing owns the message, IT strengthens the medium; trouble starts where that split is unclear.",
        Source.ALLY,
    ),
    _p(
        "message-03",
        "IT: what delivery capability, such as personalisation, mobile notifications or faster pages, could "
        "make an existing message land better? Marketing: which message would you test it with?",
        "The best technical offers to marketing are better ways to deliver, not suggestions on what to say.",
        Source.ALLY,
    ),
    _p(
        "message-04",
        "Think of a recent message that was right but reached customers the wrong way: too late, on the "
        "wrong device or to the wrong segment. Which team could have prevented it?",
        "A good message on a broken channel still fails; both halves need attention.",
    ),
    _p(
        "message-05",
        "When IT proposes a channel or tool, how should it frame the idea so it supports marketing's "
        "judgement rather than replacing it? Agree on a simple format.",
        "Proposals framed around marketing's goals get heard; proposals framed around technology get parked.",
    ),
    # --- Giving credit for results ------------------------------------------------------------------
    _p(
        "credit-01",
        "What went well between our teams in the last month? Name the people involved and decide who will "
        "thank them publicly, and where.",
        "Public thanks for joint work signals to everyone that cross-team effort counts.",
        Source.NEED_OF_THE_HOUR,
    ),
    _p(
        "credit-02",
        "Think of the last success announced as only a marketing win or only an IT win. Who else made it "
        "possible, and how could we retell it as a joint result?",
        "Credit that names both teams encourages the next joint project.",
        Source.NEED_OF_THE_HOUR,
    ),
    _p(
        "credit-03",
        "When a project disappoints, how fast does blame land on technology or on marketing? Pick a recent "
        "example and describe what happened without naming a team at fault.",
        "Blameless reviews find causes; finger-pointing only finds a scapegoat, often the technology.",
    ),
    _p(
        "credit-04",
        "For the next milestone, agree now how the result will be announced and who signs the message. "
        "Should it come from both leaders?",
        "An announcement signed by both leaders shows the organisation that success "
        "belongs to the partnership.",
        Source.NEED_OF_THE_HOUR,
    ),
    _p(
        "credit-05",
        "Whose behind-the-scenes work, such as a data cleanup or a late-night fix, made a campaign possible "
        "but went unnoticed? How do we make that kind of work visible?",
        "Invisible work stops being volunteered when nobody notices it.",
    ),
    # --- Common language ----------------------------------------------------------------------------
    _p(
        "language-01",
        "Pick one word both teams use but may define differently, such as lead, conversion, active user or "
        "release. Agree on one definition and where it will be written down.",
        "Agreeing on a few shared definitions prevents weeks of arguing about numbers that measure "
        "different things.",
        Source.WHAT_THE_CIO_WANTS,
    ),
    _p(
        "language-02",
        "IT: which piece of your jargon do you most often have to explain to marketing? Marketing: which "
        "of yours? Trade one plain-language explanation each.",
        "Jargon is a wall; translating it once, out loud, lowers it for everyone.",
    ),
    _p(
        "language-03",
        "Think of the last misunderstanding between us that cost time. Was it about words, numbers or "
        "expectations? What should go into a shared glossary so it does not happen again?",
        "Misunderstandings repeat until someone writes down what the words mean.",
    ),
    _p(
        "language-04",
        "When marketing asks for something in real time, what does it actually need, and what does IT "
        "hear? Do the same for one other phrase that shows up in requests.",
        "Unpacking loaded phrases reveals the real requirement, which is often cheaper than the literal one.",
    ),
    _p(
        "language-05",
        "Could a new joiner on either team read our shared documents and understand the other side's terms? "
        "Name one page to create or tidy up.",
        "Shared documentation is how a common language survives staff changes.",
    ),
    # --- Roles and expertise ------------------------------------------------------------------------
    _p(
        "roles-01",
        "Is there an area, such as customer data or the website, where both of us believe we should lead? "
        "Talk one through and agree who leads and who advises.",
        "Overlapping claims to lead are a main source of friction; settle them "
        "explicitly, one area at a time.",
        Source.NEED_OF_THE_HOUR,
    ),
    _p(
        "roles-02",
        "Marketing: where do you trust IT's judgement fully, and where do you second-guess it? IT: answer "
        "the same about marketing. What would close the gap?",
        "Each side leaning on the other's expertise, instead of redoing it, is what makes the skills add up.",
        Source.WHAT_THE_CIO_WANTS,
    ),
    _p(
        "roles-03",
        "Think of a recent decision that dragged because two people each thought it was theirs. How should "
        "that kind of decision be split next time?",
        "Clear decision rights speed things up more than extra meetings do.",
    ),
    _p(
        "roles-04",
        "IT: name one idea you brought to marketing unprompted recently, not in answer to a request. "
        "Marketing: what kind of proactive suggestions would you welcome most?",
        "IT earns a strategic role by proposing priorities, not only by fulfilling tickets.",
        Source.ALLY,
    ),
    _p(
        "roles-05",
        "Which platform or dataset does one team treat as its own territory? Discuss what would change if "
        "it were shared, and which safeguards sharing would need.",
        "Guarding platforms as territory leads to duplicated work and split data; shared "
        "ownership needs rules.",
        Source.WHAT_THE_CIO_WANTS,
    ),
    # --- Practices the articles stress that the first library missed ----------------------------------
    _p(
        "roles-06",
        "IT: name one thing you did this quarter that helped bring in revenue, not only keep costs down. "
        "Marketing: where could IT help you grow revenue next, if you asked?",
        "IT that sees itself as a revenue enabler, not a cost centre, earns a seat in growth decisions.",
        Source.NEED_OF_THE_HOUR,
    ),
    _p(
        "agreement-06",
        "IT: if marketing were your customer, what would your service promise to it say? Marketing: "
        "which part of that promise would matter most to you this month?",
        "Treating marketing as a customer, with a service mindset, changes how IT answers its requests.",
        Source.NEED_OF_THE_HOUR,
    ),
    _p(
        "budget-06",
        "Pick one marketing tool or budget line. Would the business as a whole fund it the same way if "
        "it were not marketing's? What would we change?",
        "Leaders who steward their resources for the whole business, not their own turf, get more trust.",
        Source.NEW_NORM,
    ),
    _p(
        "roles-07",
        "Where did one of us last defend our own team's territory when the whole business would have "
        "been better served otherwise? What would business first have looked like?",
        "Put the business first and the function second: the senior marketer is an executive first.",
        Source.NEW_NORM,
    ),
    _p(
        "data-07",
        "Which part of this quarter's marketing spend can we not tie to any result? What would IT need "
        "to track so we know which half is working?",
        "Digital makes spend measurable; nobody has to accept not knowing which half of it is wasted.",
        Source.ALLY,
    ),
    _p(
        "kpis-06",
        "Choose one campaign and agree how we will attribute its results across channels before it "
        "starts. Who owns the attribution data?",
        "Agreeing attribution before a campaign stops both sides arguing about whose numbers are right.",
        Source.ALLY,
    ),
    _p(
        "budget-07",
        "If we had to cut a tenth of the marketing technology budget tomorrow, which items would the "
        "data tell us to cut first? Do we have that data?",
        "Spend that cannot show its effect is the first to question; measuring it is a joint job.",
        Source.ALLY,
    ),
    _p(
        "customer-06",
        "Which project could a small team from marketing, IT, sales and service take on together, "
        "judged as one on the whole customer experience?",
        "Teams from several functions, judged together on the whole experience, stop optimising their own slice.",
        Source.CURRENT_STATE,
    ),
    _p(
        "kpis-07",
        "Which new-customer measure could marketing, IT, sales and service all share next quarter, "
        "so each is rewarded for the same result?",
        "Sharing acquisition goals and incentives across departments pulls them towards one outcome.",
        Source.CURRENT_STATE,
    ),
    _p(
        "customer-07",
        "Ask sales and service for one customer complaint they hear every week. Which part of it can "
        "marketing and IT fix together?",
        "Customer-facing teams hear problems first; bringing them in keeps the experience whole.",
        Source.CURRENT_STATE,
    ),
    _p(
        "language-06",
        "Marketing: when did you last change your plan after listening to IT's concerns? IT: when did "
        "you last feel marketing met you where you are?",
        "Listening to IT and meeting it where it is leaves room for everyone to take part in an idea.",
        Source.WHAT_THE_CIO_WANTS,
    ),
    _p(
        "message-06",
        "Marketing: pick one idea you are about to launch and ask IT to test it with you before "
        "it is final. What would make that easy?",
        "Vetting ideas together, early, gives both sides a real chance to shape them.",
        Source.WHAT_THE_CIO_WANTS,
    ),
    _p(
        "vision-06",
        "IT lead: what do you understand today about marketing's biggest challenge and its ambition for "
        "next year? Marketing: what is missing from that picture?",
        "A technology leader who sits down with marketing regularly learns what it is trying to achieve.",
        Source.ALLY,
    ),
    _p(
        "skills-06",
        "Plan a recurring half hour where the IT lead hears marketing's latest challenges and plans "
        "straight from the people doing the work. Who joins first?",
        "Relationships with marketing are built by investing time in them, not by waiting for tickets.",
        Source.ALLY,
    ),
    _p(
        "agreement-07",
        "Is our collaboration at the right level: too little, about right, or too much? Name one meeting "
        "or approval we could drop, and one we are missing.",
        "Few leaders think collaboration is at the right level yet; checking it means asking both ways.",
        Source.CURRENT_STATE,
    ),
    _p(
        "agreement-08",
        "Look back at last month's pulse on collaboration. What did we change since, and did it help? "
        "If not, what do we try next?",
        "Checking the level of collaboration only helps if someone follows up on what it showed.",
    ),
    _p(
        "speed-06",
        "Which of IT's ways of working slows marketing down most, and what would a faster version look "
        "like that IT could still run safely?",
        "Meeting marketing's pace may mean IT changes its operating model, not just works harder.",
        Source.NEED_OF_THE_HOUR,
    ),
    _p(
        "data-08",
        "IT: bring one analytics idea marketing has not asked for but could use now. Marketing: what "
        "would it take to try it this month?",
        "Technologists who arrive with ideas for using data, not only with answers to tickets, add real value.",
        Source.ALLY,
    ),
    _p(
        "credit-06",
        "Which joint result from the last month deserves a note from both leads to the wider company? "
        "Who writes it, and by when?",
        "When both leaders recognise a joint team in public, the next cross-team project gets easier to staff.",
        Source.NEED_OF_THE_HOUR,
    ),
    _p(
        "language-07",
        "Marketing: explain one marketing term to IT as you would to a new customer. IT: do the same for "
        "one technical term marketing keeps hearing.",
        "Treating the other team the way you treat customers, with clear words, strengthens the partnership.",
        Source.WHAT_THE_CIO_WANTS,
    ),
)

_BY_KEY: dict[str, Prompt] = {p.key: p for p in BUILTIN_PROMPTS}
if len(_BY_KEY) != len(BUILTIN_PROMPTS):  # pragma: no cover - guards against an editing mistake
    raise RuntimeError("duplicate key in BUILTIN_PROMPTS")


def prompts_for_themes(themes: Iterable[Theme]) -> tuple[Prompt, ...]:
    """The built-in prompts of the given themes, in library order (themes may be slugs too)."""
    wanted = {str(t) for t in themes}
    return tuple(p for p in BUILTIN_PROMPTS if p.theme in wanted)


def get_prompt(key: str) -> Prompt:
    """The built-in prompt with this key; `KeyError` if there is none (e.g. a workspace "ws-17" key)."""
    try:
        return _BY_KEY[key]
    except KeyError:
        raise KeyError(f"unknown built-in prompt key {key!r}") from None


def parse_theme(text: str) -> Theme:
    """A theme from its slug ("kpis") or title ("Shared KPIs and incentives"), ignoring case."""
    wanted = " ".join(text.split()).casefold()
    for theme in Theme:
        if wanted in (theme.value, THEME_TITLES[theme].casefold()):
            return theme
    valid = ", ".join(t.value for t in Theme)
    raise ValueError(f"Unknown theme {text.strip()!r}. Valid themes: {valid}.")


# --- Rotation -------------------------------------------------------------------------------------


def keys_used_in_current_cycle(
    candidate_keys: Collection[str], used_keys_in_order: Iterable[str]
) -> set[str]:
    """Which candidate keys have been used since the current cycle started.

    Replays the history (oldest first) against today's candidates: keys that are not candidates any
    more are ignored, a repeat inside a cycle counts once, and the cycle restarts right after the use
    that completes the set. The result is therefore never the whole candidate set.
    """
    universe = set(candidate_keys)
    used: set[str] = set()
    for key in used_keys_in_order:
        if key in universe:
            used.add(key)
            if len(used) == len(universe):
                used = set()
    return used


def _natural(key: str) -> str:
    """Sort key that puts "ws-9" before "ws-17"."""
    return re.sub(r"\d+", lambda m: m.group().zfill(12), key)


def _base_order(candidates: Sequence[P], rng_seed: int | None) -> list[P]:
    """Themes interleaved round-robin, so a multi-theme ritual does not run one theme dry first.

    Without a seed: themes sorted by slug, prompts by natural key order (built-ins before "ws-" keys
    of the same theme). With a seed: theme order and the order inside each theme are shuffled by
    `random.Random(rng_seed)`, so rituals seeded differently (e.g. by ritual id) do not all walk the
    library in the same order, while each ritual's order stays reproducible.
    """
    by_theme: dict[str, list[P]] = {}
    for c in sorted(candidates, key=lambda c: _natural(c.key)):
        by_theme.setdefault(str(c.theme), []).append(c)
    themes = sorted(by_theme)
    if rng_seed is not None:
        rng = random.Random(rng_seed)
        rng.shuffle(themes)
        for theme in sorted(by_theme):
            rng.shuffle(by_theme[theme])
    order: list[P] = []
    for i in range(max(len(group) for group in by_theme.values())):
        order.extend(by_theme[t][i] for t in themes if i < len(by_theme[t]))
    return order


def choose_next_prompt(
    candidates: Sequence[P],
    used_keys_in_order: Sequence[str],
    *,
    rng_seed: int | None = None,
    preferred_themes: Sequence[str] | None = None,
) -> P:
    """The next prompt for a ritual: no prompt repeats until every candidate has been used.

    `candidates` are the prompts of the ritual's themes (built-in and workspace ones mixed, keys
    unique); `used_keys_in_order` is the ritual's history of posted keys, oldest first.

    * The current cycle is computed by `keys_used_in_current_cycle`; only candidates unused in it
      are eligible.
    * Among those, prompts never used come first, then the least recently used, so from the second
      cycle on each cycle repeats the order of the previous one. Ties (the first cycle, new prompts)
      follow `_base_order`: themes interleaved, stable key order, or a shuffle seeded by `rng_seed`.
    * `preferred_themes` (e.g. the partnership's weakest areas first): the first of those themes that
      still has an eligible prompt supplies it; themes with none left, or unknown, are skipped, and
      if none qualifies the normal order applies. Rotation still holds: nothing repeats early.

    Candidate changes between calls: a prompt added mid-cycle joins the current cycle (it has not
    been used, so it comes up before anything repeats, and ahead of older prompts). A removed prompt
    is dropped from the history replay, so the cycle completes without it. Because cycles are
    replayed against today's candidates, an addition can merge past cycles into one open cycle; the
    effect is only that the new prompt comes next, and least-recently-used ordering afterwards keeps
    the long-run spread even.

    Deterministic: same inputs, same answer. Raises `ValueError` for no candidates or duplicate keys.
    """
    if not candidates:
        raise ValueError("no candidate prompts to choose from")
    keys = [c.key for c in candidates]
    if len(set(keys)) != len(keys):
        raise ValueError("candidate prompt keys must be unique")

    used = keys_used_in_current_cycle(keys, used_keys_in_order)
    last_used = {key: i for i, key in enumerate(used_keys_in_order)}
    eligible = [c for c in _base_order(candidates, rng_seed) if c.key not in used]
    eligible.sort(key=lambda c: last_used.get(c.key, -1))  # stable: ties keep the base order

    for theme in preferred_themes or ():
        for c in eligible:
            if str(c.theme) == str(theme):
                return c
    return eligible[0]


# --- One-to-one prompts --------------------------------------------------------------------------------
# Kept apart from the group themes above: these are for two (or three) people meeting across the
# teams in a pairing round (db/pairing.py), one list per purpose of the round. Keys are stable like
# the group prompts' keys ("one-<purpose>-NN"): a pairing stores the key of the prompt it was given.


@dataclass(frozen=True, slots=True)
class OneToOnePrompt:
    key: str
    purpose: str  # db.pairing.PURPOSES
    text: str


ONE_TO_ONE_PROMPTS: tuple[OneToOnePrompt, ...] = (
    OneToOnePrompt(
        "one-goals-01",
        "goals",
        "What is the one goal your team will be judged on this quarter, and where could the other "
        "team make it easier or harder?",
    ),
    OneToOnePrompt(
        "one-goals-02",
        "goals",
        "What does a good month look like for you? Compare notes: which of your measures move together?",
    ),
    OneToOnePrompt(
        "one-show-01",
        "show",
        "Marketing: walk through a campaign you are running, from brief to results. IT: show one system "
        "it depends on and what keeps you up at night about it.",
    ),
    OneToOnePrompt(
        "one-show-02",
        "show",
        "Each of you shows the tool you spend most of your day in. What surprised you about the other's?",
    ),
    OneToOnePrompt(
        "one-data-01",
        "data",
        "Bring one question about customers you cannot answer alone. Can you answer it together, or "
        "say what data would?",
    ),
    OneToOnePrompt(
        "one-data-02",
        "data",
        "Pick one number both teams report. Do you calculate it the same way, from the same source?",
    ),
    OneToOnePrompt(
        "one-shadow-01",
        "shadow",
        "Shadow each other for an hour: sit in on a stand-up, a review or a support queue. What did you "
        "learn that no meeting would have shown you?",
    ),
    OneToOnePrompt(
        "one-shadow-02",
        "shadow",
        "Swap one recurring task for an hour, with the other person beside you. What would you now "
        "ask for differently?",
    ),
)


def one_to_one_prompt(purpose: str, index: int) -> OneToOnePrompt:
    """The `index`-th prompt (in rotation) for a round with this purpose."""
    candidates = [p for p in ONE_TO_ONE_PROMPTS if p.purpose == purpose] or list(ONE_TO_ONE_PROMPTS)
    return candidates[index % len(candidates)]


def get_one_to_one_prompt(key: str | None) -> OneToOnePrompt | None:
    return next((p for p in ONE_TO_ONE_PROMPTS if p.key == key), None)
