"""Little English stories from templates: the demo's own corpus, deterministic for a seed.

Every story follows one of a few plots whose sentences always come in the same logical order
(introduction, events marked "one day", "after that", "in the end", ...), so the order of two
passages is learnable for sentence-order prediction. The slots (names, cities, jobs, animals, ...)
vary the vocabulary, and because every slot's position in the text is known, the same stories give
SQuAD questions whose answers are exact spans of the context.
"""

import dataclasses
import random
import re
from typing import Dict, List, Tuple

# === Vocabulary ===
def _words(text):
    return tuple(text.split())


FEMALE = _words("""Anna Maria Lucy Emma Sofia Clara Nora Julia Rosa Hannah Alice Grace Ella Mia Lena Olivia Sara
    Ruth Irene Laura Helen Eva Martha Paula Vera Nina Tessa Amelia Bella Daisy Agnes Beatrice Carmen Diana Edith
    Flora Gloria Hazel Ingrid Judith Karen Lydia Mabel Naomi Opal Pearl Rita Stella Thea Ursula Violet Wendy
    Yvonne Zoe Alma Bianca Cora Dora Elsa Freya Greta Heidi Iris Joan Kate Lola Molly Nell Olga Pia""")
MALE = _words("""Tom Peter Jack Oliver Lucas Daniel Samuel Henry Leo Oscar Felix Hugo Max Adam Noah Victor Simon
    Paul Martin Arthur Edward George Frank David Louis Ben Carl Ivan Mark Robert Albert Bruno Cyril Dennis Emil
    Fred Gustav Harold Isaac James Kevin Lionel Milo Nathan Otto Patrick Quentin Ralph Steven Theo Umberto
    Walter Xavier Yusuf Zack Anton Boris Colin Dexter Eric Finn Gregor Hector Igor Jonas Karl Luke Miles""")
SURNAMES = _words("""Smith Miller Baker Carter Fisher Turner Walker Cooper Hill Wood Green Hall Young King Wright
    Scott Morgan Bell Ward Brooks Gray James Watson Reed Price Bennett Wells Hughes Palmer Mills Hunt Stone
    Shaw Barnes Porter Hayes Ford Webb Marsh Holt Lane Fox Dunn Keller Frost Weaver Archer Mason Parker Harper
    Fletcher Thatcher Chandler Sawyer Hawkins Rowe Blake Nash Quinn Vance Doyle Moss Pike Sharp Burton Ellis
    Fuller Garner Hart Ingram Jarvis Knight Lowe Meyer Norris Oakley Payne Rhodes Sutton Tucker Upton Vaughn
    Whitman Yates Abbott Booth Clayton Dalton Emerson Finch Gibbs Holden Irwin Jennings Kirby Lambert Monroe""")
JOBS = _words("""baker farmer teacher doctor painter fisherman carpenter tailor nurse driver cook gardener writer
    singer builder miller potter sailor shoemaker librarian blacksmith shepherd barber hunter weaver dentist
    pilot soldier lawyer judge banker merchant clerk jeweler butcher grocer plumber mechanic engineer architect
    poet actor dancer musician photographer journalist scientist professor student waiter beekeeper
    locksmith glassblower bookbinder watchmaker candlemaker""")
CITIES = _words("""Paris London Berlin Madrid Rome Vienna Prague Lisbon Oslo Dublin Athens Warsaw Zurich Geneva
    Milan Naples Venice Munich Hamburg Porto Seville Valencia Bergen Krakow Budapest Brussels Amsterdam
    Stockholm Helsinki Edinburgh Boston Chicago Denver Toronto Quebec Sydney Cairo Lima Tokyo Delhi Florence
    Verona Bologna Turin Genoa Marseille Lyon Nice Bordeaux Toulouse Nantes Lille Antwerp Ghent Bruges
    Rotterdam Utrecht Cologne Dresden Leipzig Bremen Hanover Salzburg Graz Innsbruck Basel Bern Lucerne Lausanne
    Copenhagen Aarhus Gothenburg Malmo Tampere Riga Tallinn Vilnius Gdansk Poznan Brno Bratislava Zagreb
    Ljubljana Belgrade Sofia Bucharest Istanbul Ankara Beirut Tunis Casablanca Nairobi Dakar Montreal Vancouver
    Seattle Portland Austin Dallas Houston Miami Atlanta Detroit Memphis Havana Bogota Quito Santiago""")
BUILDINGS = ("market", "bakery", "station", "library", "church", "school", "harbor", "bridge", "mill",
             "farm", "hospital", "museum", "castle", "tower", "hotel", "theater", "post office", "town hall",
             "bank", "cinema", "factory", "garage", "pharmacy", "stadium", "chapel", "inn", "shop", "workshop",
             "lighthouse", "windmill", "temple", "palace")
LANDMARKS = ("old well", "river", "big oak tree", "fountain", "park gate", "stone wall", "lake", "hill",
             "forest path", "village square", "red barn", "wooden fence", "pond", "waterfall", "statue",
             "bus stop", "cliff", "meadow", "orchard", "vineyard", "cave", "bench", "pier", "canal", "valley")
FOODS = _words("""bread apples cheese soup honey fish eggs milk cake rice pears cherries carrots potatoes tea coffee
    butter jam plums nuts bananas grapes lemons oranges peaches onions beans pasta sausages cookies pancakes
    muffins chocolate biscuits pies noodles olives tomatoes mushrooms walnuts almonds raisins figs dates
    yogurt porridge""")
COLORS = _words("red blue green yellow black white brown grey orange purple golden silver pink violet navy "
                "crimson")
OBJECTS = _words("""key ring watch book hat scarf bag box coin letter map umbrella glove bottle lamp pencil ribbon
    basket wallet necklace bracelet camera compass diary envelope feather flute kite ladder lantern mirror
    notebook paintbrush parcel postcard purse radio sandal shell spoon suitcase sweater telescope ticket toy
    trumpet vase violin whistle belt button candle""")
ANIMALS = _words("""cat dog rabbit bird goat horse duck fox mouse owl lamb pig hen deer squirrel turtle hedgehog
    parrot pony donkey goose swan frog badger otter raccoon kitten puppy crow robin sparrow pigeon cow sheep
    calf beaver""")
FEEDS = _words("milk meat carrots seeds hay oats bread cheese corn grass nuts lettuce worms fish apples berries")
PET_NAMES = _words("""Lucky Sunny Pepper Shadow Buttons Ginger Cookie Snowball Biscuit Pickles Maple Socks Rusty
    Coco Tiger Pumpkin Bubbles Muffin Peanut Whiskers Smokey Jasper Bandit Pebbles Noodle Clover Hazelnut
    Mittens Oreo Toffee Waffles Ziggy Blossom Comet Domino Fudge Gizmo Jelly Marble Nugget""")
PLANTS = _words("""tomatoes beans peas onions pumpkins sunflowers roses strawberries cabbages lettuce corn herbs
    tulips melons cucumbers radishes spinach garlic leeks daisies lilies violets peppers squash zucchini
    raspberries blueberries lavender poppies marigolds""")
MATERIALS = _words("wood stone wire bricks bamboo branches rope iron steel planks reeds willow")
TOOLS = _words("""shovel rake wheelbarrow hammer ladder saw bicycle wagon hoe axe bucket sprinkler scythe pitchfork
    wheel cart trowel shears hose sieve""")
INSTRUMENTS = _words("piano violin guitar flute drum trumpet cello harp clarinet accordion banjo oboe "
                     "saxophone trombone mandolin harmonica")
TRAITS = _words("""kind quiet clever brave cheerful patient honest shy proud gentle busy careful friendly funny
    lazy strong tired curious polite calm lively modest wise young old happy grumpy generous humble nervous
    restless serious silly stubborn thoughtful""")
RELATIVES_F = _words("sister mother aunt grandmother cousin niece daughter")
RELATIVES_M = _words("brother father uncle grandfather cousin nephew son")
SEASONS = _words("spring summer autumn winter")
WEATHER = _words("sunny rainy windy cold warm foggy snowy cloudy stormy misty")
VEHICLES = _words("train bus boat ship coach plane tram ferry taxi")
NUMBERS = _words("two three four five six seven eight nine ten eleven twelve")


# === Plots ===
@dataclasses.dataclass(frozen=True)
class Plot:
    """Sentences in their fixed order (each a tuple of alternative templates) and questions
    `(template, answer slot)` whose answer is that slot's text in the story."""
    sentences: Tuple[Tuple[str, ...], ...]
    questions: Tuple[Tuple[str, str], ...]


PLOTS = (
    Plot(sentences=(
        ("{name} {surname} was a {trait} {job} who lived in {city}.",
         "In {city} there lived a {trait} {job} called {name} {surname}."),
        ("Every morning {pron} walked to the {building} to buy {food}.",
         "Each morning {name} went to the {building} for some {food}."),
        ("One day, {pron} found a {thing} near the {landmark}.",
         "One day, near the {landmark}, {pron} found a {thing}."),
        ("Nobody in {city} knew who had lost the {object}.",),
        ("So {name} wrote a note and put it on the door of the {building}.",),
        ("Two days later, a {job2} named {friend} {fsurname} came to ask about the {object}.",),
        ("{friend} said that {fpron} had lost it on the way to the {landmark}.",),
        ("{name} gave the {object} back, and {friend} thanked {obj} with a basket of {food2}.",),
        ("In the end, the two of them became good friends.", "In the end, {name} and {friend} became friends."),
    ), questions=(
        ("Where did {name} live?", "city"),
        ("What was {name}'s job?", "job"),
        ("What kind of {job} was {name}?", "trait"),
        ("What was the surname of {name}?", "surname"),
        ("What did {name} find near the {landmark}?", "thing"),
        ("Where did {name} find the {object}?", "landmark"),
        ("Who came to ask about the {object}?", "friend"),
        ("What was the job of {friend}?", "job2"),
        ("What did {friend} give {name}?", "food2"),
    )),
    Plot(sentences=(
        ("{name} {surname} was a {trait} {job} from {city}.", "{name} {surname} worked as a {job} in {city}."),
        ("In {season}, {pron} decided to visit {pos} {relative} in {city2}.",),
        ("{Pron} packed a bag with a {thing} and some {food}.",),
        ("The next morning, {pron} took the {vehicle} to {city2}.",
         "The next morning, {pron} went to {city2} by {vehicle}."),
        ("The trip took {number} hours, and the weather was {weather}.",),
        ("When {pron} arrived, {pos} {relative} was waiting at the {building}.",),
        ("They ate {food2} together and talked about the old days.",),
        ("After a week, {name} went back home to {city}.",),
        ("Finally, {pron} told everyone in {city} about the trip.",),
    ), questions=(
        ("Where was {name} from?", "city"),
        ("Which city did {name} visit?", "city2"),
        ("How did {name} travel to {city2}?", "vehicle"),
        ("How many hours did the trip take?", "number"),
        ("Where was the {relative} waiting?", "building"),
        ("What did they eat together?", "food2"),
        ("When did {name} decide to visit {city2}?", "season"),
    )),
    Plot(sentences=(
        ("{name} {surname} had a small garden behind {pos} house in {city}.",),
        ("In {season}, {pron} planted {plant} in long rows.", "In {season}, {name} planted {plant} in long rows."),
        ("Every evening {pron} watered them with a {color} can.",),
        ("After a few weeks, the first {plant} began to grow.",),
        ("One night, a {animal} came into the garden and ate some leaves.",),
        ("{name} built a fence of {material} to keep the {animal} out.",),
        ("Later, the {plant} grew tall and strong.",),
        ("At the end of the summer, {pron} sold them at the {building} for {number} coins.",),
        ("With the money, {pron} bought a new {tool}.",),
    ), questions=(
        ("What did {name} plant?", "plant"),
        ("Which animal came into the garden?", "animal"),
        ("What was the fence made of?", "material"),
        ("What did {name} buy with the money?", "tool"),
        ("Where did {name} sell the {plant}?", "building"),
        ("Where was the garden of {name}?", "city"),
    )),
    Plot(sentences=(
        ("On a {weather} day, a {trait} {job} named {name} heard a sound behind the {building}.",),
        ("{Pron} looked and saw a small {color} {animal} under a box.",),
        ("The {animal} was cold and very hungry.",),
        ("{name} carried it home and gave it some {feed}.",),
        ("The next day, {pron} took it to a doctor named {friend} {fsurname}.",),
        ("{friend} said that the {animal} would be fine.",),
        ("{name} called the {animal} {pet}.", "{name} gave the {animal} the name {pet}."),
        ("Since then, {pet} has followed {name} everywhere.",),
    ), questions=(
        ("What did {name} find under a box?", "animal"),
        ("What did {name} call the {animal}?", "pet"),
        ("Who was the doctor?", "friend"),
        ("Where did {name} hear a sound?", "building"),
        ("What did {name} give the {animal}?", "feed"),
        ("What was the job of {name}?", "job"),
    )),
    Plot(sentences=(
        ("{name} {surname} always wanted to play the {instrument}.",),
        ("{Pos} {relative} found an old {instrument} in the attic and gave it to {obj}.",),
        ("At first, {pron} could only play one simple song.",),
        ("Then {pron} practiced for {number} hours every day.",),
        ("A {trait} teacher named {friend} {fsurname} showed {obj} how to read music.",),
        ("After many months, {pron} played at a concert in {city}.",),
        ("The people in the hall clapped for a long time.",),
        ("Now {name} teaches the {instrument} to children in {city}.",),
    ), questions=(
        ("Which instrument did {name} want to play?", "instrument"),
        ("Who found the old {instrument}?", "relative"),
        ("Who showed {name} how to read music?", "friend"),
        ("Where was the concert?", "city"),
        ("How many hours did {name} practice every day?", "number"),
    )),
)


# === Cast ===
def _person(rng):
    if rng.random() < 0.5:
        return rng.choice(FEMALE), "she", "her", "her", RELATIVES_F
    return rng.choice(MALE), "he", "his", "him", RELATIVES_M


def cast(rng: random.Random) -> Dict[str, str]:
    """Values for every slot any plot uses (two different people, cities, foods, jobs)."""
    name, pron, pos, obj, relatives = _person(rng)
    friend, fpron, _, _, _ = _person(rng)
    while friend == name:
        friend, fpron, _, _, _ = _person(rng)
    city, city2 = rng.sample(CITIES, 2)
    job, job2 = rng.sample(JOBS, 2)
    food, food2 = rng.sample(FOODS, 2)
    color, obj_name, animal = rng.choice(COLORS), rng.choice(OBJECTS), rng.choice(ANIMALS)
    return dict(
        name=name, pron=pron, Pron=pron.capitalize(), pos=pos, Pos=pos.capitalize(), obj=obj,
        relative=rng.choice(relatives), friend=friend, fpron=fpron,
        surname=rng.choice(SURNAMES), fsurname=rng.choice(SURNAMES), trait=rng.choice(TRAITS),
        city=city, city2=city2, job=job, job2=job2,
        food=food, food2=food2, color=color, object=obj_name, thing=f"{color} {obj_name}", animal=animal,
        feed=rng.choice(FEEDS), pet=rng.choice(PET_NAMES), building=rng.choice(BUILDINGS),
        landmark=rng.choice(LANDMARKS), plant=rng.choice(PLANTS), material=rng.choice(MATERIALS),
        tool=rng.choice(TOOLS), instrument=rng.choice(INSTRUMENTS), season=rng.choice(SEASONS),
        weather=rng.choice(WEATHER), vehicle=rng.choice(VEHICLES), number=rng.choice(NUMBERS))


# === Rendering ===
_SLOT = re.compile(r"\{(\w+)\}")


def fill(template: str, values: Dict[str, str]) -> Tuple[str, Dict[str, int]]:
    """The template with its slots filled, and the character offset of each slot's first value."""
    parts, starts, length, last = [], {}, 0, 0
    for match in _SLOT.finditer(template):
        literal = template[last:match.start()]
        value = values[match.group(1)]
        if re.search(r"(^|\s)[Aa] $", literal) and value[0].lower() in "aeiou":  # "a actor" -> "an actor"
            literal = literal[:-1] + "n "
        parts += [literal, value]
        length += len(literal)
        starts.setdefault(match.group(1), length)
        length += len(value)
        last = match.end()
    parts.append(template[last:])
    return "".join(parts), starts


@dataclasses.dataclass
class Story:
    sentences: List[str]
    values: Dict[str, str]
    answer_starts: Dict[str, int]  # slot -> offset in `context`
    plot: Plot

    @property
    def context(self) -> str:
        return " ".join(self.sentences)

    def questions(self):
        """(question, answer text, answer offset in `context`) for the plot's questions."""
        for template, slot in self.plot.questions:
            yield fill(template, self.values)[0], self.values[slot], self.answer_starts[slot]


def story(rng: random.Random) -> Story:
    plot = rng.choice(PLOTS)
    values = cast(rng)
    sentences, starts, offset = [], {}, 0
    for alternatives in plot.sentences:
        text, slot_starts = fill(rng.choice(alternatives), values)
        for slot, start in slot_starts.items():
            starts.setdefault(slot, offset + start)
        sentences.append(text)
        offset += len(text) + 1  # the space that joins sentences in `context`
    return Story(sentences, values, starts, plot)


def stories(count: int, seed: int) -> List[Story]:
    rng = random.Random(seed)
    return [story(rng) for _ in range(count)]


def write_corpus(path, count: int, seed: int) -> int:
    """One sentence per line, a blank line between stories (the pretraining-data input format).
    Returns the number of bytes written."""
    text = "\n\n".join("\n".join(s.sentences) for s in stories(count, seed)) + "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return len(text.encode("utf-8"))
