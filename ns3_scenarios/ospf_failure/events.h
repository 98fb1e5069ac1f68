// ospf_failure/events.h - part of scenario.cc (included in this order: input.h, medium.h, measurement.h, routing.h, network.h, convergence.h, events.h, traffic.h, outputs.h).
//
// Events at their timestamps (failures, restores, SRLG cuts, degradation, misconfiguration,
// router overload, traffic spikes), mitigations applied by the twin, and cascades: failures
// that emerge from overload, each with its causal predecessor and depth.
//
// Uses: input.h, medium.h, measurement.h, routing.h, network.h, convergence.h.

#pragma once

namespace
{

void
SetRouters(Twin* t, const EventSpec& e, bool failed)
{
    for (uint32_t n : e.targets)
    {
        t->nodeFailed[n] = failed;
    }
}

/// fiber_link_failure, srlg_cut, router_failure (up = false) and their restores (up = true).
void
Outage(Twin* t, uint32_t index, bool up)
{
    const EventSpec& e = t->in.events[index];
    for (uint32_t l : EventLinks(*t, e))
    {
        SetMedium(t, l, up);
    }
    if (e.targetKind == "node")
    {
        SetRouters(t, e, !up);
        for (uint32_t n : e.targets)
        {
            if (!up)
            {
                t->routing[n]->Clear(); // a dead router forwards nothing, its own traffic included
            }
        }
    }
    LogEvent(t, index, up ? "restore" : "inject");
    Simulator::Schedule(Seconds(t->in.Param("detect_delay_s")), &Detect, t, index, up);
}

/// link_degradation: loss probability `magnitude` and `magnitude2` seconds of
/// extra propagation delay on both directions; routing does not notice.
void
Degrade(Twin* t, uint32_t index, bool on)
{
    const EventSpec& e = t->in.events[index];
    for (uint32_t l : e.targets)
    {
        LinkState& st = t->links[l];
        for (int side = 0; side < 2; ++side)
        {
            Ptr<GrayErrorModel> em = CreateObject<GrayErrorModel>();
            em->Configure(e.magnitude, 1000 + 2 * l + side);
            st.dev[side]->SetReceiveErrorModel(on ? em : nullptr);
        }
        double delay = t->in.links[l].delayS + (on ? e.magnitude2 : 0.0);
        st.dev[0]->GetChannel()->SetAttribute("Delay", TimeValue(Seconds(delay)));
    }
    LogEvent(t, index, on ? "inject" : "end");
}

/// misconfiguration: the link's OSPF cost is multiplied by `magnitude`
/// (capped at 65535); its ends flood the change and routers reconverge.
void
Misconfigure(Twin* t, uint32_t index, bool on)
{
    const EventSpec& e = t->in.events[index];
    for (uint32_t l : e.targets)
    {
        double cost = t->in.links[l].cost * (on ? e.magnitude : 1.0);
        t->lsdbCost[l] = static_cast<uint64_t>(std::min(cost, 65535.0));
    }
    LogEvent(t, index, on ? "inject" : "end");
    Flood(t, index, Witnesses(*t, e.targets));
}

/// router_overload: the router's CPU runs at `magnitude` of its capacity.
void
Overload(Twin* t, uint32_t index, bool on)
{
    const EventSpec& e = t->in.events[index];
    for (uint32_t n : e.targets)
    {
        Cpu& c = t->cpus[n];
        c.pps = on ? c.basePps * e.magnitude : c.basePps;
    }
    LogEvent(t, index, on ? "inject" : "end");
}

/// traffic_spike: the attack flows are in the input (class "attack"); the
/// twin only logs the spike's start and end.
void
Spike(Twin* t, uint32_t index, bool on)
{
    LogEvent(t, index, on ? "inject" : "end");
}

/// Applies event `index` (on = true) or reverts it (on = false).
void
Apply(Twin* t, uint32_t index, bool on)
{
    const std::string& type = t->in.events[index].type;
    if (on)
    {
        t->applied.emplace_back(Simulator::Now().GetSeconds(), static_cast<int>(index));
    }
    if (type == "fiber_link_failure" || type == "router_failure" || type == "srlg_cut")
    {
        Outage(t, index, !on);
    }
    else if (type == "link_restore" || type == "router_restore")
    {
        Outage(t, index, on);
    }
    else if (type == "link_degradation")
    {
        Degrade(t, index, on);
    }
    else if (type == "misconfiguration")
    {
        Misconfigure(t, index, on);
    }
    else if (type == "router_overload")
    {
        Overload(t, index, on);
    }
    else
    {
        Spike(t, index, on);
    }
}

void
ScheduleEvent(Twin& t, uint32_t i, double delayS)
{
    const EventSpec& e = t.in.events[i];
    Simulator::Schedule(Seconds(delayS), &Apply, &t, i, true);
    if (e.durationS > 0)
    {
        Simulator::Schedule(Seconds(delayS + e.durationS), &Apply, &t, i, false);
    }
}

void
ScheduleEvents(Twin& t)
{
    static const std::set<std::string> known = {
        "fiber_link_failure", "router_failure", "link_restore",    "router_restore",   "srlg_cut",
        "link_degradation",   "misconfiguration", "router_overload", "traffic_spike"};
    for (uint32_t i = 0; i < t.in.events.size(); ++i)
    {
        const EventSpec& e = t.in.events[i];
        if (!known.count(e.type))
        {
            std::cerr << "input: event " << i << ": this template cannot execute '" << e.type << "'\n";
            std::exit(2);
        }
        if (e.type == "router_overload")
        {
            for (uint32_t n : e.targets)
            {
                if (t.cpus[n].basePps <= 0)
                {
                    std::cerr << "input: event " << i << ": router_overload on a node without CPU model\n";
                    std::exit(2);
                }
            }
        }
        ScheduleEvent(t, i, e.timeS);
    }
}

// -------------------------------------------------------------- mitigations

/// Applies mitigation `i`; logged in events.csv as event type "mitigate_<kind>".
void
Mitigate(Twin* t, uint32_t i)
{
    const MitigationSpec& m = t->in.mitigations[i];
    EventSpec e;
    e.timeS = m.timeS;
    e.type = "mitigate_" + m.kind;
    e.targetKind = m.targetKind;
    e.targets = {m.target};
    e.label = m.targetKind == "link" ? t->in.links[m.target].id : t->in.nodes[m.target];
    t->in.events.push_back(e);
    uint32_t index = t->in.events.size() - 1;
    LogEvent(t, index, "inject");
    if (m.kind == "set_cost")
    {
        t->lsdbCost[m.target] = static_cast<uint64_t>(std::min(std::max(m.value, 1.0), 65535.0));
        Flood(t, index, Witnesses(*t, {m.target}));
    }
    else if (m.kind == "scale_capacity")
    {
        DataRate rate(static_cast<uint64_t>(t->in.links[m.target].capacityBps * m.value));
        for (auto& dev : t->links[m.target].dev)
        {
            dev->SetDataRate(rate);
        }
    }
    else if (m.kind == "scale_cpu")
    {
        Cpu& c = t->cpus[m.target];
        c.basePps *= m.value;
        c.pps *= m.value;
    }
    else if (m.kind == "rate_limit")
    {
        for (uint32_t f = 0; f < t->in.flows.size(); ++f)
        {
            const FlowSpec& fs = t->in.flows[f];
            if (fs.kind == "attack" && fs.dst == m.target)
            {
                t->senders[f]->SetRateFactor(m.value);
            }
        }
    }
}

void
ScheduleMitigations(Twin& t)
{
    for (uint32_t i = 0; i < t.in.mitigations.size(); ++i)
    {
        const MitigationSpec& m = t.in.mitigations[i];
        bool known = m.kind == "set_cost" || m.kind == "scale_capacity" || m.kind == "scale_cpu" ||
                     m.kind == "rate_limit";
        if (!known || (m.kind == "scale_cpu" && t.cpus[m.target].basePps <= 0))
        {
            std::cerr << "input: mitigation " << i << ": cannot apply '" << m.kind << "' here\n";
            std::exit(2);
        }
        Simulator::Schedule(Seconds(m.timeS), &Mitigate, &t, i);
    }
}

// ----------------------------------------------------------------- cascades

/// The cause of a condition first observed at `onsetS`: the latest event (injected
/// or emerged) applied strictly before it, whose load or rerouted traffic the
/// condition followed; -1 when none was.
int
CauseBefore(const Twin* t, double onsetS)
{
    int cause = -1;
    for (const auto& [time, index] : t->applied)
    {
        if (time >= onsetS - 1e-12)
        {
            break;
        }
        cause = index;
    }
    return cause;
}

/// A failure that emerges in the run: logged, attributed to its cause (the
/// latest event applied before its condition began; depth = the cause's + 1,
/// so depth is the length of the causal chain), and executed like an injected one.
void
Emerge(Twin* t, const std::string& type, const std::string& kind, uint32_t target, const std::string& label,
       double onsetS)
{
    EventSpec e;
    e.timeS = Simulator::Now().GetSeconds();
    e.type = type;
    e.targetKind = kind;
    e.targets = {target};
    e.label = label;
    e.cause = CauseBefore(t, onsetS);
    e.depth = e.cause >= 0 ? t->in.events[e.cause].depth + 1 : 1;
    t->in.events.push_back(e);
    uint32_t index = t->in.events.size() - 1;
    t->cascades << std::setprecision(12) << e.timeS << "," << index << "," << type << "," << label
                << ",emerged," << e.cause << "," << e.depth << "\n";
    Apply(t, index, true);
}

/// One monitor tick: per-link and per-router time series, and the cascade rules.
void
Monitor(Twin* t)
{
    const Input& in = t->in;
    double now = Simulator::Now().GetSeconds();
    double interval = in.Param("interval_s");
    int hold = std::max(1, static_cast<int>(std::lround(in.Param("cascade_hold_s") / interval)));
    bool cascades = in.Param("cascades") != 0;
    int64_t bin = std::llround(now / interval) - 1;
    for (uint32_t k = 0; k < t->links.size(); ++k)
    {
        LinkState& st = t->links[k];
        const LinkSpec& ls = in.links[k];
        uint32_t ends[2] = {ls.u, ls.v};
        for (int side = 0; side < 2; ++side)
        {
            uint64_t offered = st.tickTx[side] + st.tickDrops[side];
            double dropRatio = offered ? double(st.tickDrops[side]) / offered : 0.0;
            st.hotTicks[side] = dropRatio >= in.Param("cascade_drop_ratio") ? st.hotTicks[side] + 1 : 0;
            if (st.hotTicks[side] == 1)
            {
                st.hotSince[side] = now;
            }
            t->linkSeries << ls.id << "," << in.nodes[ends[side]] << "," << in.nodes[ends[1 - side]] << ","
                          << bin << "," << std::setprecision(12) << bin * interval << "," << st.tickTx[side]
                          << "," << st.tickBytes[side] << "," << st.dev[side]->GetQueue()->GetNPackets()
                          << "," << st.tickDrops[side] << "\n";
            st.tickTx[side] = st.tickBytes[side] = st.tickDrops[side] = 0;
            if (cascades && !st.failed && st.hotTicks[side] >= hold)
            {
                double onset = st.hotSince[side];
                st.hotTicks[0] = st.hotTicks[1] = 0;
                Emerge(t, "fiber_link_failure", "link", k, ls.id, onset);
            }
        }
    }
    for (uint32_t n = 0; n < t->cpus.size(); ++n)
    {
        Cpu& c = t->cpus[n];
        if (c.basePps <= 0)
        {
            continue;
        }
        double util = std::min(1.0, c.busyS / interval);
        c.hotTicks = util >= in.Param("cascade_cpu_threshold") ? c.hotTicks + 1 : 0;
        if (c.hotTicks == 1)
        {
            c.hotSince = now;
        }
        t->nodeSeries << in.nodes[n] << "," << bin << "," << std::setprecision(12) << bin * interval << ","
                      << util << "," << c.intervalDrops << "\n";
        c.busyS = 0;
        c.intervalDrops = 0;
        if (cascades && !t->nodeFailed[n] && c.hotTicks >= hold)
        {
            c.hotTicks = 0;
            Emerge(t, "router_failure", "node", n, in.nodes[n], c.hotSince);
        }
    }
    Simulator::Schedule(Seconds(interval), &Monitor, t);
}

} // namespace
