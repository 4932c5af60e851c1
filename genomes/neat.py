"""NEAT graphs (Stanley & Miikkulainen 2002): node and connection genes with innovation numbers.

Node ids: sensors ``0..inputs-1``, then the bias node (id ``inputs``) when ``bias`` is set, then the outputs,
then hidden nodes with ids handed out by an ``InnovationTracker``. Connection genes are held as parallel
read-only arrays sorted by innovation number; a disabled gene stays in the genome for alignment.

Propagation scheme (identical in every kernel): each evaluation step writes the inputs, then updates the
live non-input nodes once each, in a fixed order, in place: ``value[n] = sigmoid(4.9 * sum(w * value[src]))``.
The order is topological over enabled connections; where a cycle makes that impossible the smallest
remaining node goes first. A connection whose source comes later in the order (or a self-loop) therefore
reads the source's value from the previous step; in a feed-forward net every connection reads this step's.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar

import numpy as np

from .base import Diagram, InvalidGenome, Mutation, canonical_hash, expect
from .ir import CROSSOVER, ELITE, MUTATION_NAMES, ActivationIR, NeatPopulationIR

STEEPNESS = 4.9  # [EC02] 4.1: phi(x) = 1 / (1 + exp(-4.9 x))

_MUTATIONS: dict[int, Mutation] = {}


def mutation_of(code: int) -> Mutation:
    """The lineage's mutation for a kernel code (one shared object per code)."""
    mutation = _MUTATIONS.get(code)
    if mutation is None:
        done = "+".join(name for bit, name in enumerate(MUTATION_NAMES) if code & (1 << bit))
        if code & ELITE:
            kind = "elite"
        elif code & CROSSOVER:
            kind = f"crossover+{done}" if done else "crossover"
        else:
            kind = done or "clone"
        mutation = _MUTATIONS[code] = Mutation(kind)
    return mutation


def _frozen(array: np.ndarray, dtype: Any) -> np.ndarray:
    out = np.array(array, dtype=dtype)
    out.setflags(write=False)
    return out


class NeatGenome:
    """A NEAT genotype: I/O layout, hidden node ids, and connection genes sorted by innovation number.

    A genome made by the compiled reproduction is a row of its generation's population arrays
    (``packed_rows``); its gene arrays are read-only views cut from them on first use.
    """

    __slots__ = ("inputs", "outputs", "bias", "feed_forward", "_genes", "_batch", "_row")
    kind: ClassVar[str] = "neat"

    def __init__(self, inputs: int, outputs: int, bias: bool, feed_forward: bool, hidden: tuple[int, ...], innovation: np.ndarray,
                 source: np.ndarray, target: np.ndarray, weight: np.ndarray, enabled: np.ndarray) -> None:
        self.inputs, self.outputs, self.bias, self.feed_forward = inputs, outputs, bias, feed_forward
        self._genes: tuple[Any, ...] | None = (hidden, innovation, source, target, weight, enabled)
        self._batch: NeatPopulationIR | None = None
        self._row = -1

    @classmethod
    def build(
        cls, inputs: int, outputs: int, bias: bool, feed_forward: bool, hidden: Any,
        innovation: Any, source: Any, target: Any, weight: Any, enabled: Any,
    ) -> NeatGenome:
        """Make a genome from any sequences, sorting genes by innovation and freezing the arrays."""
        innovation = np.asarray(innovation, dtype=np.int64)
        order = np.argsort(innovation, kind="stable")
        return cls(
            int(inputs), int(outputs), bool(bias), bool(feed_forward), tuple(sorted(int(h) for h in hidden)),
            _frozen(innovation[order], np.int64), _frozen(np.asarray(source, dtype=np.int64)[order], np.int64),
            _frozen(np.asarray(target, dtype=np.int64)[order], np.int64),
            _frozen(np.asarray(weight, dtype=np.float64)[order], np.float64), _frozen(np.asarray(enabled, dtype=bool)[order], bool),
        )

    @classmethod
    def packed_rows(cls, batch: NeatPopulationIR, bias: bool, feed_forward: bool) -> list[NeatGenome]:
        """Every genome of a population whose arrays are read-only, in order (nothing is copied until a gene is read)."""
        new = cls.__new__
        inputs, outputs = batch.n_inputs - bias, batch.n_outputs
        genomes = []
        for row in range(len(batch.conn_offset) - 1):
            genome = new(cls)
            genome.inputs, genome.outputs, genome.bias, genome.feed_forward = inputs, outputs, bias, feed_forward
            genome._genes, genome._batch, genome._row = None, batch, row
            genomes.append(genome)
        return genomes

    def _unpack(self) -> tuple[Any, ...]:
        batch, row = self._batch, self._row
        assert batch is not None
        c0, c1 = int(batch.conn_offset[row]), int(batch.conn_offset[row + 1])
        h0, h1 = int(batch.hidden_offset[row]), int(batch.hidden_offset[row + 1])
        self._genes = (tuple(batch.hidden[h0:h1].tolist()), batch.innovation[c0:c1], batch.source[c0:c1], batch.target[c0:c1],
                       batch.weight[c0:c1], batch.enabled[c0:c1])
        return self._genes

    @property
    def hidden(self) -> tuple[int, ...]:
        """Hidden node ids, increasing."""
        return (self._genes or self._unpack())[0]  # type: ignore[no-any-return]

    @property
    def innovation(self) -> np.ndarray:
        """Innovation numbers, increasing."""
        return (self._genes or self._unpack())[1]  # type: ignore[no-any-return]

    @property
    def source(self) -> np.ndarray:
        """Source node id of each gene."""
        return (self._genes or self._unpack())[2]  # type: ignore[no-any-return]

    @property
    def target(self) -> np.ndarray:
        """Target node id of each gene."""
        return (self._genes or self._unpack())[3]  # type: ignore[no-any-return]

    @property
    def weight(self) -> np.ndarray:
        """Weight of each gene."""
        return (self._genes or self._unpack())[4]  # type: ignore[no-any-return]

    @property
    def enabled(self) -> np.ndarray:
        """Enabled flag of each gene (a disabled gene stays for alignment)."""
        return (self._genes or self._unpack())[5]  # type: ignore[no-any-return]

    def __reduce__(self) -> tuple[Any, ...]:
        return (NeatGenome, (self.inputs, self.outputs, self.bias, self.feed_forward, self.hidden, self.innovation, self.source,
                             self.target, self.weight, self.enabled))

    def __repr__(self) -> str:
        return f"NeatGenome({self.to_dict()!r})"

    # -- layout -----------------------------------------------------------------------------------
    @property
    def n_inputs(self) -> int:
        """Input nodes including the bias node."""
        return self.inputs + int(self.bias)

    @property
    def first_hidden(self) -> int:
        """The smallest id a hidden node may have."""
        return self.n_inputs + self.outputs

    def node_ids(self) -> list[int]:
        """Every node id: inputs (bias last), outputs, hidden."""
        return list(range(self.first_hidden)) + list(self.hidden)

    def __len__(self) -> int:
        if self._genes is None and self._batch is not None:
            return int(self._batch.conn_offset[self._row + 1] - self._batch.conn_offset[self._row])
        return len(self.innovation)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NeatGenome) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(self.fingerprint())

    # -- protocol ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON form; each connection is ``[innovation, source, target, weight, enabled]``."""
        return {
            "kind": self.kind, "inputs": self.inputs, "outputs": self.outputs, "bias": self.bias,
            "feed_forward": self.feed_forward, "hidden": list(self.hidden),
            "connections": [
                list(gene)
                for gene in zip(self.innovation.tolist(), self.source.tolist(), self.target.tolist(), self.weight.tolist(), self.enabled.tolist())
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NeatGenome:
        """Parse and validate the JSON form."""
        if not isinstance(data, dict) or data.get("kind") != cls.kind:
            raise InvalidGenome("not a NEAT genome: expected kind 'neat'")
        try:
            connections = data["connections"]
            expect(all(isinstance(c, (list, tuple)) and len(c) == 5 for c in connections), "each connection is [innovation, source, target, weight, enabled]")
            expect(all(isinstance(c[4], bool) for c in connections), "a connection's enabled flag must be true or false")
            expect(all(isinstance(v, int) and not isinstance(v, bool) for c in connections for v in c[:3]), "innovation, source and target must be integers")
            expect(isinstance(data["hidden"], list) and all(isinstance(h, int) and not isinstance(h, bool) for h in data["hidden"]), "hidden must be a list of node ids")
            genome = cls.build(
                data["inputs"], data["outputs"], data["bias"], data["feed_forward"], data["hidden"],
                [c[0] for c in connections], [c[1] for c in connections], [c[2] for c in connections],
                [c[3] for c in connections], [c[4] for c in connections],
            )
            expect(list(genome.hidden) == list(data["hidden"]), "hidden node ids must be listed in increasing order")
            expect(genome.innovation.tolist() == [c[0] for c in connections], "connections must be listed by increasing innovation number")
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            if isinstance(exc, InvalidGenome):
                raise
            raise InvalidGenome(f"malformed NEAT genome: {exc!r}") from None
        genome.validate()
        return genome

    def validate(self) -> None:
        """Check ids, unique innovations and links, finite weights, and acyclicity for feed-forward genomes."""
        expect(self.inputs >= 1 and self.outputs >= 1, "a NEAT genome needs at least one input and one output")
        n = len(self.innovation)
        expect(all(len(a) == n for a in (self.source, self.target, self.weight, self.enabled)), "connection arrays differ in length")
        expect(len(set(self.hidden)) == len(self.hidden), "hidden node ids repeat")
        expect(all(h >= self.first_hidden for h in self.hidden), f"hidden node ids must be >= {self.first_hidden}")
        expect(n == 0 or bool(np.all(np.diff(self.innovation) > 0)), "innovation numbers must be unique")
        expect(n == 0 or int(self.innovation[0]) >= 0, "innovation numbers must be non-negative")
        nodes = set(self.node_ids())
        expect(all(int(s) in nodes for s in self.source), "a connection starts at a node the genome lacks")
        expect(all(int(t) in nodes and int(t) >= self.n_inputs for t in self.target), "a connection ends at an input or a missing node")
        expect(len(set(zip(self.source.tolist(), self.target.tolist()))) == n, "two connection genes join the same pair of nodes")
        expect(bool(np.all(np.isfinite(self.weight))), "connection weights must be finite")
        used = set(self.source.tolist()) | set(self.target.tolist())
        expect(all(h in used for h in self.hidden), "a hidden node has no connection gene")
        if self.feed_forward:
            expect(_is_acyclic(self.node_ids(), self.source.tolist(), self.target.tolist()), "a feed-forward genome has a cycle")

    def fingerprint(self) -> str:
        """Hash of what the network computes: enabled links with weights (innovation numbers and disabled genes do not count)."""
        links = sorted((s, t, w) for s, t, w, e in zip(self.source.tolist(), self.target.tolist(), self.weight.tolist(), self.enabled.tolist()) if e)
        return canonical_hash([self.inputs, self.outputs, self.bias, links])

    def lower(self) -> ActivationIR:
        """Straight-line activation code: node order and each node's incoming links (dead nodes dropped)."""
        return lower_network(self)

    def enabled_links(self) -> list[tuple[int, int, float]]:
        """The enabled connections as (source, target, weight)."""
        return [(s, t, w) for s, t, w, e in zip(self.source.tolist(), self.target.tolist(), self.weight.tolist(), self.enabled.tolist()) if e]

    def describe(self) -> str:
        """The network as text: its nodes and enabled connections."""
        ir = self.lower()
        live_hidden = [h for h in self.hidden if h in ir.node_ids]
        lines = [
            f"NEAT network: {self.inputs} input(s){' + bias' if self.bias else ''}, {self.outputs} output(s), "
            f"{len(live_hidden)} live hidden node(s) of {len(self.hidden)}, "
            f"{int(self.enabled.sum())} enabled connection(s) of {len(self)}, {'feed-forward' if self.feed_forward else 'recurrent'}",
            f"evaluation order: {' '.join(_node_name(self, n) for n in ir.evaluation_order_ids())}",
        ]
        for s, t, w in self.enabled_links():
            lines.append(f"  {_node_name(self, s)} -> {_node_name(self, t)}  weight {w:+.6f}")
        return "\n".join(lines)

    def diagrams(self) -> list[Diagram]:
        """The enabled network as a graph with weights on the links."""
        used = sorted({n for s, t, _ in self.enabled_links() for n in (s, t)} | set(range(self.first_hidden)))
        index = {n: i for i, n in enumerate(used)}
        edges = tuple((index[s], index[t], f"{w:+.2f}") for s, t, w in self.enabled_links())
        return [Diagram("network", tuple(_node_name(self, n) for n in used), edges)]

    def to_dot(self) -> str:
        """A Graphviz drawing of the enabled network (inputs at the top, outputs at the bottom)."""
        lines = ["digraph neat {", "  rankdir=TB;", "  node [shape=circle, fontsize=10];"]
        inputs = " ".join(f'"{_node_name(self, i)}"' for i in range(self.n_inputs))
        outputs = " ".join(f'"{_node_name(self, self.n_inputs + o)}"' for o in range(self.outputs))
        lines.append(f"  {{ rank=source; {inputs} }}")
        lines.append(f"  {{ rank=sink; {outputs} }}")
        for i in range(self.n_inputs):
            lines.append(f'  "{_node_name(self, i)}" [shape=box];')
        for o in range(self.outputs):
            lines.append(f'  "{_node_name(self, self.n_inputs + o)}" [shape=doublecircle];')
        for s, t, w in self.enabled_links():
            colour = "blue" if w >= 0 else "red"
            width = 0.5 + min(3.0, abs(w))
            lines.append(f'  "{_node_name(self, s)}" -> "{_node_name(self, t)}" [label="{w:+.2f}", color={colour}, penwidth={width:.2f}];')
        lines.append("}")
        return "\n".join(lines) + "\n"


def _node_name(genome: NeatGenome, node: int) -> str:
    if node < genome.inputs:
        return f"in{node}"
    if genome.bias and node == genome.inputs:
        return "bias"
    if node < genome.first_hidden:
        return f"out{node - genome.n_inputs}"
    return f"h{node}"


def _is_acyclic(nodes: list[int], sources: list[int], targets: list[int]) -> bool:
    successors: dict[int, list[int]] = {n: [] for n in nodes}
    indegree = dict.fromkeys(nodes, 0)
    for s, t in zip(sources, targets):
        successors[s].append(t)
        indegree[t] += 1
    ready = [n for n in nodes if indegree[n] == 0]
    seen = 0
    while ready:
        n = ready.pop()
        seen += 1
        for t in successors[n]:
            indegree[t] -= 1
            if indegree[t] == 0:
                ready.append(t)
    return seen == len(nodes)


def _reaches(start: int, goal: int, successors: dict[int, list[int]]) -> bool:
    stack, seen = [start], {start}
    while stack:
        n = stack.pop()
        if n == goal:
            return True
        for t in successors.get(n, ()):
            if t not in seen:
                seen.add(t)
                stack.append(t)
    return False


def lower_network(genome: NeatGenome) -> ActivationIR:
    """Lower a genome to dense-indexed activation code (see the module docstring for the scheme)."""
    ids = genome.node_ids()
    dense = {node: i for i, node in enumerate(ids)}
    n_in, n_out = genome.n_inputs, genome.outputs
    links = genome.enabled_links()
    incoming: dict[int, list[tuple[int, float]]] = {n: [] for n in ids}
    predecessors: dict[int, set[int]] = {n: set() for n in ids}
    for s, t, w in links:
        incoming[t].append((s, w))
        predecessors[t].add(s)
    # Live nodes: those an output depends on (through enabled links), outputs always included.
    live = set(range(n_in, n_in + n_out))
    stack = list(live)
    while stack:
        n = stack.pop()
        for s in predecessors[n]:
            if s >= n_in and s not in live:
                live.add(s)
                stack.append(s)
    remaining = {n: sum(1 for s in predecessors[n] if s in live and s != n) for n in live}
    successors: dict[int, list[int]] = {n: [] for n in live}
    for s, t, _ in links:
        if s in live and t in live and s != t:
            successors[s].append(t)
    order: list[int] = []
    done: set[int] = set()
    while len(order) < len(live):
        ready = [n for n in live if n not in done and remaining[n] == 0]
        node = min(ready) if ready else min(n for n in live if n not in done)  # a cycle: smallest id first
        order.append(node)
        done.add(node)
        for t in successors[node]:
            remaining[t] -= 1
    starts = [0]
    sources: list[int] = []
    weights: list[float] = []
    for node in order:
        for s, w in sorted(incoming[node]):
            sources.append(dense[s])
            weights.append(w)
        starts.append(len(sources))
    # An output no input can reach is never activated ([NEATC] gives such a net the minimum pole fitness).
    reach = {n: [] for n in ids}
    for s, t, _ in links:
        reach[s].append(t)
    activated = all(any(_reaches(i, n_in + o, reach) for i in range(n_in)) for o in range(n_out))
    return ActivationIR(
        n_nodes=len(ids), n_inputs=n_in, n_outputs=n_out,
        order=np.array([dense[n] for n in order], dtype=np.int32),
        start=np.array(starts, dtype=np.int32), source=np.array(sources, dtype=np.int32),
        weight=np.array(weights, dtype=np.float64), activated=activated, node_ids=tuple(ids),
    )


@dataclass
class InnovationTracker:
    """Innovation and node-id counters plus the registry of this generation's structural mutations ([EC02] 3.2)."""

    next_innovation: int
    next_node: int
    registry: dict[str, list[int]] = field(default_factory=dict)

    def arrays(self, spare: int) -> tuple[np.ndarray, np.ndarray]:
        """The registry as kernel rows (room for ``spare`` more) and ``[next innovation, next node, rows]``."""
        registry = np.zeros((len(self.registry) + spare, 6), dtype=np.int64)
        for r, (key, values) in enumerate(self.registry.items()):
            kind, *ends = key.split(":")
            if kind == "c":
                registry[r] = (0, int(ends[0]), int(ends[1]), values[0], -1, -1)
            else:
                registry[r] = (1, int(ends[0]), -1, *values)
        return registry, np.array([self.next_innovation, self.next_node, len(self.registry)], dtype=np.int64)

    def absorb(self, registry: np.ndarray, counters: np.ndarray) -> None:
        """Take back counters and the rows a kernel call registered (inverse of ``arrays``)."""
        self.next_innovation, self.next_node = int(counters[0]), int(counters[1])
        for kind, a, b, v0, v1, v2 in registry[len(self.registry) : int(counters[2])].tolist():
            if kind == 0:
                self.registry[f"c:{a}:{b}"] = [v0]
            else:
                self.registry[f"n:{a}"] = [v0, v1, v2]

    def new_generation(self) -> None:
        """Forget this generation's mutations: the same mutation later gets new numbers."""
        self.registry.clear()

    def state_dict(self) -> dict[str, Any]:
        """JSON-safe state (counters and registry)."""
        return {"next_innovation": self.next_innovation, "next_node": self.next_node, "registry": {k: list(v) for k, v in self.registry.items()}}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> InnovationTracker:
        """Inverse of ``state_dict``."""
        return cls(int(state["next_innovation"]), int(state["next_node"]), {k: [int(x) for x in v] for k, v in state["registry"].items()})

    def copy(self) -> InnovationTracker:
        """An independent copy (for rewinding an interrupted batch)."""
        return InnovationTracker.from_state(self.state_dict())


@dataclass(frozen=True)
class NeatSpace:
    """NEAT's layout, variation probabilities ([EC02] 4.1) and compatibility coefficients.

    Values the paper leaves open ([NEATC] where it fixes them): weights of new links and of the initial
    population are uniform in +-``new_weight_range``; a perturbation adds uniform +-``perturb_power``; a
    replaced weight is uniform in +-``replace_range``; weights are clipped to +-``weight_cap``.
    """

    inputs: int = 2
    outputs: int = 1
    bias: bool = True
    feed_forward: bool = True
    prob_mutate_weights: float = 0.8
    prob_perturb: float = 0.9  # per weight, in a genome whose weights mutate; otherwise replaced
    perturb_power: float = 2.5
    replace_range: float = 2.5
    new_weight_range: float = 1.0
    weight_cap: float = 8.0
    prob_add_node: float = 0.03
    prob_add_connection: float = 0.05
    prob_toggle_enable: float = 0.0  # flip one gene's enabled flag (not in [EC02]'s table; off by default)
    prob_reenable: float = 0.0  # re-enable one disabled gene
    disable_inherited: float = 0.75  # crossover: disabled in either parent -> disabled with this probability
    c1: float = 1.0
    c2: float = 1.0
    c3: float = 0.4
    normalize_below: int = 20  # N = 1 when both genomes have fewer genes than this
    exclusive_structural: bool = False  # [NEATC]: a child that got a new node or link gets no weight mutation
    # Which link add-node splits is left open by [EC02]; [NEATC] never splits a bias link and, in genomes of
    # fewer than 15 genes, walks from the oldest link, moving on with p 0.3. Both cut XOR evaluations (100
    # seeds: 6,624 uniform, 5,335 without bias links, 4,814 with both).
    split_bias_links: bool = False
    split_older_first: bool = True
    kind: ClassVar[str] = "neat"

    def __post_init__(self) -> None:
        if self.inputs < 1 or self.outputs < 1:
            raise ValueError("NEAT needs at least one input and one output")
        for name in ("prob_mutate_weights", "prob_perturb", "prob_add_node", "prob_add_connection", "prob_toggle_enable", "prob_reenable", "disable_inherited"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {getattr(self, name)}")
        for name in ("perturb_power", "replace_range", "new_weight_range", "weight_cap", "c1", "c2", "c3"):
            if not getattr(self, name) >= 0.0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe config."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NeatSpace:
        """Inverse of ``to_dict``."""
        return cls(**data)

    def genome_from_dict(self, data: dict[str, Any]) -> NeatGenome:
        """Parse a genome and check it has this space's layout."""
        genome = NeatGenome.from_dict(data)
        expect(
            (genome.inputs, genome.outputs, genome.bias, genome.feed_forward) == (self.inputs, self.outputs, self.bias, self.feed_forward),
            f"genome layout {genome.inputs}/{genome.outputs}/bias={genome.bias}/feed_forward={genome.feed_forward} differs from the space's",
        )
        return genome

    # -- creation ---------------------------------------------------------------------------------
    @property
    def n_inputs(self) -> int:
        """Input nodes including the bias node."""
        return self.inputs + int(self.bias)

    def new_tracker(self) -> InnovationTracker:
        """Counters that start after the minimal genome's links and nodes."""
        return InnovationTracker(self.n_inputs * self.outputs, self.n_inputs + self.outputs)

    def initial(self, rng: np.random.Generator) -> NeatGenome:
        """The minimal start ([EC02] 1.3): every input (bias included) linked to every output, random weights."""
        batch = self.initial_population(np.array([rng.integers(0, 2**63, dtype=np.int64)], dtype=np.uint64))
        return NeatGenome.packed_rows(batch, self.bias, self.feed_forward)[0]

    def initial_population(self, seeds: np.ndarray) -> NeatPopulationIR:
        """Minimal genomes, one per seed, as one population: weights uniform in +-``new_weight_range`` from each seed's stream."""
        from evonas.kernels.neat_reproduce import uniform_weights

        n_in, genomes = self.n_inputs, len(seeds)
        count = n_in * self.outputs
        arrays = [
            np.tile(np.arange(count, dtype=np.int64), genomes),
            np.tile(np.repeat(np.arange(n_in, dtype=np.int64), self.outputs), genomes),
            np.tile(np.tile(np.arange(n_in, n_in + self.outputs, dtype=np.int64), n_in), genomes),
            uniform_weights(np.asarray(seeds, dtype=np.uint64), count, self.new_weight_range).ravel(),
            np.ones(genomes * count, dtype=bool), np.zeros(0, dtype=np.int64),
            np.arange(genomes + 1, dtype=np.int64) * count, np.zeros(genomes + 1, dtype=np.int64),
        ]
        for array in arrays:
            array.setflags(write=False)
        innovation, source, target, weight, enabled, hidden, conn_offset, hidden_offset = arrays
        return NeatPopulationIR(n_in, self.outputs, conn_offset, innovation, source, target, weight, enabled, hidden_offset, hidden)

    def random(self, rng: np.random.Generator) -> NeatGenome:
        """A minimal genome grown by a few structural mutations (for random search and property tests)."""
        genome = self.initial(rng)
        tracker = self.new_tracker()
        for _ in range(int(rng.integers(0, 6))):
            genome = self.grow(genome, rng, tracker, add_node=bool(rng.random() < 0.5))
        return genome

    def grow(self, genome: NeatGenome, rng: np.random.Generator, tracker: InnovationTracker, add_node: bool) -> NeatGenome:
        """One structural mutation forced: a new node (``add_node``) or a new link; the genome itself when none fits."""
        forced = replace(self, prob_mutate_weights=0.0, prob_add_node=1.0 if add_node else 0.0, prob_add_connection=1.0,
                         prob_toggle_enable=0.0, prob_reenable=0.0, exclusive_structural=True)
        return forced.mutate(genome, rng, tracker)[0]

    # -- variation (one implementation, compiled: kernels/neat_reproduce.py) ----------------------------
    def parameters(self, mutation_only: float = 0.0, interspecies: float = 0.0, mutate_after_crossover: float = 0.0) -> np.ndarray:
        """The variation settings as the compiled kernel's parameter vector (reproduction shares appended)."""
        return np.array([
            self.n_inputs, self.outputs, self.inputs if self.bias else -1, self.feed_forward, self.prob_mutate_weights, self.prob_perturb,
            self.perturb_power, self.replace_range, self.new_weight_range, self.weight_cap, self.prob_add_node, self.prob_add_connection,
            self.prob_toggle_enable, self.prob_reenable, self.disable_inherited, self.exclusive_structural, self.split_bias_links,
            self.split_older_first, mutation_only, interspecies, mutate_after_crossover,
        ], dtype=np.float64)

    def mutate(self, genome: NeatGenome, rng: np.random.Generator, tracker: InnovationTracker | None = None) -> tuple[NeatGenome, Mutation]:  # type: ignore[override]
        """[EC02] mutation: weights (p 0.8), then add node (p 0.03), then add connection; any may apply."""
        if tracker is None:  # standalone use: numbers continue after the genome's own
            tracker = InnovationTracker(int(genome.innovation.max(initial=-1)) + 1, max([genome.first_hidden, *[h + 1 for h in genome.hidden]]))
        child, code = self._vary(genome, None, False, rng, tracker)
        return child, mutation_of(code)

    def crossover(self, fitter: NeatGenome, other: NeatGenome, rng: np.random.Generator, equal: bool = False) -> NeatGenome:
        """[EC02] 3.2: matching genes from either parent at random; disjoint and excess from the fitter parent
        (from both when ``equal``); a gene disabled in either parent is disabled with probability 0.75."""
        return self._vary(fitter, other, equal, rng, None)[0]

    def _vary(self, first: NeatGenome, second: NeatGenome | None, equal: bool, rng: np.random.Generator,
              tracker: InnovationTracker | None) -> tuple[NeatGenome, int]:
        """Crossover (``second`` given) or mutation of one genome by the compiled kernel, seeded from ``rng``."""
        from evonas.kernels.neat_reproduce import vary_one

        population = population_ir([first] if second is None else [first, second])
        registry, counters = (tracker or InnovationTracker(0, 0)).arrays(spare=2)
        seed = np.uint64(rng.integers(0, 2**63, dtype=np.int64))
        p = population
        innovation, source, target, weight, enabled, hidden, code = vary_one(
            p.conn_offset, p.innovation, p.source, p.target, p.weight, p.enabled, p.hidden_offset, p.hidden,
            0, -1 if second is None else 1, equal, second is None, seed, self.parameters(), registry, counters)
        if tracker is not None:
            tracker.absorb(registry, counters)
        for array in (innovation, source, target, weight, enabled):
            array.setflags(write=False)
        child = NeatGenome(first.inputs, first.outputs, first.bias, first.feed_forward, tuple(hidden.tolist()),
                           innovation, source, target, weight, enabled)
        return child, int(code)

    def distance(self, a: NeatGenome, b: NeatGenome) -> float:
        """Compatibility distance (Eq. 1): c1 E/N + c2 D/N + c3 W, disabled genes included."""
        if not len(a) and not len(b):
            return 0.0
        shared, ia, ib = np.intersect1d(a.innovation, b.innovation, assume_unique=True, return_indices=True)
        cutoff = min(int(a.innovation.max(initial=-1)), int(b.innovation.max(initial=-1)))
        unmatched = np.concatenate([np.delete(a.innovation, ia), np.delete(b.innovation, ib)])
        excess = int(np.count_nonzero(unmatched > cutoff))
        disjoint = len(unmatched) - excess
        size = max(len(a), len(b))
        n = 1 if size < self.normalize_below else size
        weight = float(np.mean(np.abs(a.weight[ia] - b.weight[ib]))) if len(shared) else 0.0
        return self.c1 * excess / n + self.c2 * disjoint / n + self.c3 * weight


def population_ir(genomes: list[NeatGenome]) -> NeatPopulationIR:
    """Flatten genomes of one layout into arrays for the compiled kernels (lowering, speciation); rows of one
    packed population are gathered from it without building their gene arrays."""
    if not genomes:
        raise ValueError("population_ir needs at least one genome")
    first = genomes[0]
    batch = first._batch if type(first) is NeatGenome else None
    if batch is not None:
        rows = [g._row for g in genomes if type(g) is NeatGenome and g._batch is batch]
        if len(rows) == len(genomes):  # rows of one population share its layout
            if len(rows) == len(batch.conn_offset) - 1 and rows == list(range(len(rows))):
                return batch  # the whole population, in order
            return _gather(batch, np.array(rows, dtype=np.int64))
    strangers = {type(g).__name__ for g in genomes if not isinstance(g, NeatGenome)}
    if strangers:
        raise TypeError(f"a NEAT population holds NEAT genomes, not {', '.join(sorted(strangers))}")
    if any((g.inputs, g.outputs, g.bias) != (first.inputs, first.outputs, first.bias) for g in genomes):
        raise ValueError("every genome of a population needs the same inputs, bias and outputs")
    conn_offset = np.zeros(len(genomes) + 1, dtype=np.int64)
    conn_offset[1:] = np.cumsum([len(g.innovation) for g in genomes])
    hidden_offset = np.zeros(len(genomes) + 1, dtype=np.int64)
    hidden_offset[1:] = np.cumsum([len(g.hidden) for g in genomes])
    hidden = [h for g in genomes for h in g.hidden]
    return NeatPopulationIR(
        first.n_inputs, first.outputs, conn_offset,
        np.concatenate([g.innovation for g in genomes]), np.concatenate([g.source for g in genomes]),
        np.concatenate([g.target for g in genomes]), np.concatenate([g.weight for g in genomes]),
        np.concatenate([g.enabled for g in genomes]), hidden_offset, np.array(hidden, dtype=np.int64),
    )


def _gather(batch: NeatPopulationIR, rows: np.ndarray) -> NeatPopulationIR:
    """The given rows of a population, in that order, as a new population."""
    from evonas.kernels.neat_reproduce import gather_rows

    b = batch
    offset, innovation, source, target, weight, enabled, hidden_offset, hidden = gather_rows(
        b.conn_offset, b.innovation, b.source, b.target, b.weight, b.enabled, b.hidden_offset, b.hidden, rows)
    return NeatPopulationIR(b.n_inputs, b.n_outputs, offset, innovation, source, target, weight, enabled, hidden_offset, hidden)


def activate_genomes(genomes: list[NeatGenome], rows: np.ndarray) -> np.ndarray:
    """Outputs ``[genome, row, output]`` of NEAT genomes on input rows (bias value included where the genome has
    a bias), one pass from a zero state per row: the helper for user tasks that score NEAT networks."""
    from evonas.kernels.neat_cpu import activate_rows, lower_population

    return activate_rows(lower_population(population_ir(list(genomes))), rows)  # type: ignore[no-any-return]
