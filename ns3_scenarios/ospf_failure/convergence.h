// ospf_failure/convergence.h - part of scenario.cc (included in this order: input.h, medium.h, measurement.h, routing.h, network.h, convergence.h, events.h, traffic.h, outputs.h).
//
// Routing convergence, the OSPF timeline: the initial tables (Dijkstra over OSPF costs, ECMP);
// after an event, detection at the ends (interfaces down/up), LSA flooding hop by hop from the
// witnesses, SPF per router with delay, hold and exponential back-off, FIB installation, and the
// `reconverge` line of events.csv once the last router has installed. Also the events log and
// the medium switch that events.h uses.
//
// Uses: input.h, medium.h, measurement.h, routing.h, network.h.

#pragma once

namespace
{

constexpr uint64_t kUnreachable = std::numeric_limits<uint64_t>::max();

/// Dijkstra over the links the database holds up; `weight(l)` is the length of link l.
template <typename W>
std::vector<W>
ShortestFrom(const Twin& t, const std::vector<uint32_t>& sources, W infinity,
             const std::function<W(uint32_t)>& weight)
{
    std::vector<W> dist(t.in.nodes.size(), infinity);
    using Item = std::pair<W, uint32_t>;
    std::priority_queue<Item, std::vector<Item>, std::greater<Item>> queue;
    for (uint32_t s : sources)
    {
        dist[s] = W(0);
        queue.push({W(0), s});
    }
    while (!queue.empty())
    {
        auto [d, n] = queue.top();
        queue.pop();
        if (d > dist[n])
        {
            continue;
        }
        for (uint32_t l : t.incident[n])
        {
            const LinkSpec& ls = t.in.links[l];
            uint32_t m = ls.u == n ? ls.v : ls.u;
            W nd = d + weight(l);
            if (t.lsdbUp[l] && nd < dist[m])
            {
                dist[m] = nd;
                queue.push({nd, m});
            }
        }
    }
    return dist;
}

/// Router r's ports (AniRouting::SetPorts): one per incident link, in link order.
std::vector<AniRouting::Hop>
Ports(const Twin& t, uint32_t r)
{
    std::vector<AniRouting::Hop> ports;
    for (uint32_t l : t.incident[r])
    {
        int side = t.in.links[l].u == r ? 0 : 1;
        ports.push_back(AniRouting::Hop{t.links[l].iface[side], Ipv4Address((10u << 24) + l * 4u + (1 - side) + 1)});
    }
    return ports;
}

/// SPF of router r, the reference way: for every destination router, the ports of all
/// equal-cost shortest paths (in port order), from one Dijkstra per neighbour: port l
/// reaches d on a shortest path when cost(l) + dist(neighbour, d) == dist(r, d).
/// Used when a link in the database costs 0 (SpfTable's order argument needs costs > 0).
AniRouting::Table
SpfTableByNeighbours(const Twin& t, uint32_t r)
{
    std::function<uint64_t(uint32_t)> cost = [&t](uint32_t l) { return t.lsdbCost[l]; };
    std::vector<uint64_t> mine = ShortestFrom<uint64_t>(t, {r}, kUnreachable, cost);
    std::vector<std::vector<uint16_t>> next(t.in.nodes.size());
    for (uint32_t i = 0; i < t.incident[r].size(); ++i)
    {
        uint32_t l = t.incident[r][i];
        const LinkSpec& ls = t.in.links[l];
        if (!t.lsdbUp[l])
        {
            continue;
        }
        uint32_t neighbour = ls.u == r ? ls.v : ls.u;
        std::vector<uint64_t> theirs = ShortestFrom<uint64_t>(t, {neighbour}, kUnreachable, cost);
        for (uint32_t d = 0; d < next.size(); ++d)
        {
            if (d != r && theirs[d] != kUnreachable && t.lsdbCost[l] + theirs[d] == mine[d])
            {
                next[d].push_back(static_cast<uint16_t>(i));
            }
        }
    }
    AniRouting::Table table;
    table.start.push_back(0);
    for (const auto& hops : next)
    {
        table.hop.insert(table.hop.end(), hops.begin(), hops.end());
        table.start.push_back(static_cast<uint32_t>(table.hop.size()));
    }
    return table;
}

/// SPF of router r: for every destination router, the ports of all equal-cost shortest paths
/// (in port order), from ONE Dijkstra. The ports that reach d on a shortest path are the
/// union, over d's shortest-path predecessors p (dist(p) + cost(p, d) == dist(d)), of p's
/// ports, or of the link itself when p is r; with costs > 0 every predecessor is settled
/// before d, so one pass in settling order fills them all. The same table as
/// SpfTableByNeighbours (port l is on a shortest path to d exactly when
/// cost(l) + dist(neighbour, d) == dist(r, d)), at 1 / (degree + 1) of its Dijkstras.
AniRouting::Table
SpfTable(const Twin& t, uint32_t r)
{
    const size_t n = t.in.nodes.size();
    const std::vector<uint32_t>& ports = t.incident[r];
    bool zeroCost = false; // a link of cost 0 on r's side of the network (a misconfiguration can make one)
    const size_t words = std::max<size_t>(1, (ports.size() + 63) / 64);
    std::vector<uint64_t> dist(n, kUnreachable);
    std::vector<uint32_t> order;
    order.reserve(n);
    using Item = std::pair<uint64_t, uint32_t>;
    std::priority_queue<Item, std::vector<Item>, std::greater<Item>> queue;
    dist[r] = 0;
    queue.push({0, r});
    while (!queue.empty())
    {
        auto [d, x] = queue.top();
        queue.pop();
        if (d > dist[x])
        {
            continue;
        }
        order.push_back(x);
        for (uint32_t l : t.incident[x])
        {
            if (!t.lsdbUp[l])
            {
                continue;
            }
            const LinkSpec& ls = t.in.links[l];
            uint32_t m = ls.u == x ? ls.v : ls.u;
            uint64_t nd = d + t.lsdbCost[l];
            zeroCost |= t.lsdbCost[l] == 0;
            if (nd < dist[m])
            {
                dist[m] = nd;
                queue.push({nd, m});
            }
        }
    }
    if (zeroCost)
    {
        return SpfTableByNeighbours(t, r);
    }
    // bit i of a node's mask: port i of r starts a shortest path to it
    std::vector<uint64_t> mask(n * words, 0);
    for (uint32_t x : order)
    {
        if (x == r)
        {
            continue;
        }
        uint64_t* mx = &mask[x * words];
        for (uint32_t l : t.incident[x])
        {
            const LinkSpec& ls = t.in.links[l];
            uint32_t p = ls.u == x ? ls.v : ls.u;
            if (!t.lsdbUp[l] || p == x || dist[p] == kUnreachable || dist[p] + t.lsdbCost[l] != dist[x])
            {
                continue;
            }
            if (p == r)
            {
                for (size_t i = 0; i < ports.size(); ++i)
                {
                    if (ports[i] == l)
                    {
                        mx[i / 64] |= uint64_t(1) << (i % 64);
                    }
                }
            }
            else
            {
                const uint64_t* mp = &mask[p * words];
                for (size_t w = 0; w < words; ++w)
                {
                    mx[w] |= mp[w];
                }
            }
        }
    }
    AniRouting::Table table;
    table.start.reserve(n + 1);
    table.hop.reserve(n + n / 4);
    table.start.push_back(0);
    for (uint32_t d = 0; d < n; ++d)
    {
        if (d != r)
        {
            const uint64_t* md = &mask[d * words];
            for (size_t w = 0; w < words; ++w)
            {
                for (uint64_t bits = md[w]; bits; bits &= bits - 1)
                {
                    table.hop.push_back(static_cast<uint16_t>(w * 64 + __builtin_ctzll(bits)));
                }
            }
        }
        table.start.push_back(static_cast<uint32_t>(table.hop.size()));
    }
    return table;
}

void
InitRouting(Twin& t)
{
    size_t n = t.in.nodes.size();
    t.lsdbUp.assign(t.in.links.size(), true);
    for (const LinkSpec& ls : t.in.links)
    {
        t.lsdbCost.push_back(ls.cost);
    }
    t.lastSpf.assign(n, -1e9);
    t.spfHold.assign(n, t.in.Param("spf_hold_s"));
    t.spfPending.assign(n, false);
    t.awaiting.assign(n, {});
    bool ecmp = t.in.Param("ecmp") != 0;
    for (uint32_t r = 0; r < n; ++r)
    {
        t.routing.push_back(DynamicCast<AniRouting>(t.nodes.Get(r)->GetObject<Ipv4>()->GetRoutingProtocol()));
        t.routing[r]->SetPorts(Ports(t, r));
        t.routing[r]->SetTable(SpfTable(t, r), ecmp);
    }
}

void
LogEvent(Twin* t, uint32_t index, const std::string& phase)
{
    const EventSpec& e = t->in.events[index];
    t->eventLog << std::setprecision(12) << Simulator::Now().GetSeconds() << "," << index << "," << e.type
                << "," << e.label << "," << phase << "\n";
}

void
SetInterfaces(Twin* t, uint32_t link, bool up)
{
    LinkState& st = t->links[link];
    for (int side = 0; side < 2; ++side)
    {
        Ptr<Ipv4> ipv4 = st.dev[side]->GetNode()->GetObject<Ipv4>();
        up ? ipv4->SetUp(st.iface[side]) : ipv4->SetDown(st.iface[side]);
    }
}

/// A failure holds the medium down until as many restores: a link cut twice
/// (by an srlg_cut and by a router failure) needs both to end.
void
SetMedium(Twin* t, uint32_t link, bool up)
{
    LinkState& st = t->links[link];
    st.downCount = std::max(0, st.downCount + (up ? -1 : 1));
    st.failed = st.downCount > 0;
    for (auto& dev : st.dev)
    {
        dev->SetReceiveErrorModel(st.failed ? CreateObject<LinkDownErrorModel>() : nullptr);
    }
}

/// Links an event acts on: its links, or every link of its routers.
std::vector<uint32_t>
EventLinks(const Twin& t, const EventSpec& e)
{
    if (e.targetKind == "link")
    {
        return e.targets;
    }
    std::vector<uint32_t> out;
    for (uint32_t n : e.targets)
    {
        out.insert(out.end(), t.incident[n].begin(), t.incident[n].end());
    }
    return out;
}

void
Install(Twin* t, uint32_t r, AniRouting::Table table, std::vector<uint32_t> events)
{
    if (!t->nodeFailed[r])
    {
        t->routing[r]->SetTable(std::move(table), t->in.Param("ecmp") != 0);
    }
    for (uint32_t e : events)
    {
        if (--t->installsLeft[e] == 0)
        {
            LogEvent(t, e, "reconverge"); // the last router has its new routes: the network converged
        }
    }
}

/// Router r runs SPF on the database as it is now; the FIB follows fib_delay_s later.
void
Spf(Twin* t, uint32_t r)
{
    t->spfPending[r] = false;
    t->lastSpf[r] = Simulator::Now().GetSeconds();
    std::vector<uint32_t> events;
    events.swap(t->awaiting[r]);
    Simulator::Schedule(Seconds(t->in.Param("fib_delay_s")), &Install, t, r, SpfTable(*t, r), events);
}

/// An LSA about event `index` reaches router r. SPF throttling with exponential
/// back-off (as in IOS "timers throttle spf"): the run waits spf_delay_s, and at
/// least the current hold after the router's previous run; each run scheduled
/// inside the hold doubles the hold, up to spf_max_hold_s; a router quiet for
/// twice that long starts again from spf_hold_s.
void
LsaArrives(Twin* t, uint32_t r, uint32_t index)
{
    t->awaiting[r].push_back(index);
    if (t->spfPending[r])
    {
        return; // the scheduled run will see this change too
    }
    double now = Simulator::Now().GetSeconds();
    double hold = t->in.Param("spf_hold_s");
    double maxHold = std::max(hold, t->in.Param("spf_max_hold_s"));
    if (now - t->lastSpf[r] >= 2 * maxHold)
    {
        t->spfHold[r] = hold; // quiet: back-off over
    }
    double at = std::max(now + t->in.Param("spf_delay_s"), t->lastSpf[r] + t->spfHold[r]);
    if (now - t->lastSpf[r] < t->spfHold[r])
    {
        t->spfHold[r] = std::min(2 * t->spfHold[r], maxHold);
    }
    t->spfPending[r] = true;
    Simulator::Schedule(Seconds(at - now), &Spf, t, r);
}

/// Floods the LSA of event `index` from the routers that noticed it: each
/// router learns after the propagation delays of the links on the way plus
/// lsa_hop_delay_s per hop (processing, pacing).
void
Flood(Twin* t, uint32_t index, const std::vector<uint32_t>& origins)
{
    double hop = t->in.Param("lsa_hop_delay_s");
    std::function<double(uint32_t)> delay = [t, hop](uint32_t l) { return t->in.links[l].delayS + hop; };
    std::vector<double> arrival =
        ShortestFrom<double>(*t, origins, std::numeric_limits<double>::infinity(), delay);
    for (uint32_t r = 0; r < arrival.size(); ++r)
    {
        if (std::isfinite(arrival[r]) && !t->nodeFailed[r])
        {
            ++t->installsLeft[index];
            Simulator::Schedule(Seconds(arrival[r]), &LsaArrives, t, r, index);
        }
    }
}

/// The live routers at the ends of `links`: they notice a change first.
std::vector<uint32_t>
Witnesses(const Twin& t, const std::vector<uint32_t>& links)
{
    std::set<uint32_t> out;
    for (uint32_t l : links)
    {
        for (uint32_t n : {t.in.links[l].u, t.in.links[l].v})
        {
            if (!t.nodeFailed[n])
            {
                out.insert(n);
            }
        }
    }
    return {out.begin(), out.end()};
}

void
Detect(Twin* t, uint32_t index, bool up)
{
    std::vector<uint32_t> links = EventLinks(*t, t->in.events[index]);
    for (uint32_t l : links)
    {
        bool usable = up && !t->links[l].failed;
        if (!up || usable)
        {
            SetInterfaces(t, l, up);
        }
        t->lsdbUp[l] = usable;
    }
    LogEvent(t, index, "detect");
    Flood(t, index, Witnesses(*t, links));
}

} // namespace
