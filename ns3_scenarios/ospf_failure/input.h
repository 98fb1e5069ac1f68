// ospf_failure/input.h - part of scenario.cc (included in this order: input.h, medium.h, measurement.h, routing.h, network.h, convergence.h, events.h, traffic.h, outputs.h).
//
// The program's input: the data file `ani` writes (input.txt: parameters, links, nodes,
// flows, events, mitigations; format in README.md) and the optional binary packet trace.
//
// Uses: nothing but the ns-3 and standard headers.

#pragma once

namespace
{

struct LinkSpec
{
    uint32_t u, v;
    double capacityBps, delayS;
    uint32_t cost;
    std::string id;
};

struct FlowSpec
{
    uint32_t src, dst;
    double rateBps;
    uint32_t packetBytes;
    double startS, stopS;
    std::string kind; // "demand" (the network's traffic), "attack" (a traffic_spike's) or "probe"
};

struct EventSpec
{
    double timeS;
    std::string type;
    double magnitude = 1, magnitude2 = 0; // meaning per type, see README.md
    double durationS = 0;                 // > 0: the event reverts by itself after this long
    std::string targetKind;               // "link" or "node"
    std::vector<uint32_t> targets;        // one link or node; several links for an srlg_cut
    std::string label;                    // the scenario's target id, for the logs
    int cause = -1;                       // emerged events: the event they are attributed to
    int depth = 0;                        // 0 injected, cause's depth + 1 emerged
};

struct MitigationSpec
{
    double timeS;
    std::string kind; // set_cost, scale_capacity, scale_cpu, rate_limit
    std::string targetKind;
    uint32_t target;
    double value;
};

struct NodeSpec
{
    std::string id;
    double cpuPps = 0; // > 0: the router's forwarding is a CPU of this many packets/s
};

struct Input
{
    std::map<std::string, double> params;
    std::vector<std::string> nodes;
    std::vector<NodeSpec> nodeSpecs;
    std::vector<LinkSpec> links;
    std::vector<FlowSpec> flows;
    std::vector<EventSpec> events;
    std::vector<double> probes; // times at which delivery is probed (the events' times)
    std::vector<MitigationSpec> mitigations;

    double Param(const std::string& name) const
    {
        auto it = params.find(name);
        if (it == params.end())
        {
            std::cerr << "input: missing parameter '" << name << "'\n";
            std::exit(2);
        }
        return it->second;
    }
};

[[noreturn]] void
InputError(const std::string& path, int lineNo, const std::string& why)
{
    std::cerr << path << ":" << lineNo << ": " << why << "\n";
    std::exit(2);
}

Input
ReadInput(const std::string& path)
{
    std::ifstream in(path);
    if (!in)
    {
        InputError(path, 0, "cannot open input file");
    }
    Input d;
    std::string line;
    int lineNo = 0;
    while (std::getline(in, line))
    {
        ++lineNo;
        if (line.empty() || line[0] == '#')
        {
            continue;
        }
        std::istringstream ls(line);
        std::string kind;
        uint32_t index = 0;
        ls >> kind;
        bool ok = true;
        if (kind == "param")
        {
            std::string name;
            double value;
            ok = static_cast<bool>(ls >> name >> value);
            d.params[name] = value;
        }
        else if (kind == "node")
        {
            NodeSpec n;
            ok = static_cast<bool>(ls >> index >> n.id) && index == d.nodes.size();
            if (!(ls >> n.cpuPps))
            {
                n.cpuPps = 0;
            }
            ok = ok && n.cpuPps >= 0;
            d.nodes.push_back(n.id);
            d.nodeSpecs.push_back(n);
        }
        else if (kind == "link")
        {
            LinkSpec l;
            ok = static_cast<bool>(ls >> index >> l.u >> l.v >> l.capacityBps >> l.delayS >> l.cost >>
                                   l.id) &&
                 index == d.links.size() && l.u < d.nodes.size() && l.v < d.nodes.size() &&
                 l.capacityBps > 0 && l.delayS >= 0 && l.cost > 0;
            d.links.push_back(l);
        }
        else if (kind == "flow")
        {
            FlowSpec f;
            ok = static_cast<bool>(ls >> index >> f.src >> f.dst >> f.rateBps >> f.packetBytes >>
                                   f.startS >> f.stopS >> f.kind) &&
                 (f.kind == "demand" || f.kind == "attack" || f.kind == "probe") &&
                 index == d.flows.size() && f.src < d.nodes.size() && f.dst < d.nodes.size() &&
                 f.rateBps > 0 && f.packetBytes >= 12 && f.stopS > f.startS;
            d.flows.push_back(f);
        }
        else if (kind == "event")
        {
            EventSpec e;
            size_t n = 0;
            ok = static_cast<bool>(ls >> index >> e.timeS >> e.type >> e.magnitude >> e.magnitude2 >>
                                   e.durationS >> e.label >> e.targetKind >> n) &&
                 index == d.events.size() && n >= 1 && e.durationS >= 0 &&
                 (e.targetKind == "link" || e.targetKind == "node");
            size_t limit = e.targetKind == "link" ? d.links.size() : d.nodes.size();
            for (size_t k = 0; ok && k < n; ++k)
            {
                uint32_t target;
                ok = static_cast<bool>(ls >> target) && target < limit;
                e.targets.push_back(target);
            }
            d.events.push_back(e);
        }
        else if (kind == "mitigation")
        {
            MitigationSpec m;
            ok = static_cast<bool>(ls >> index >> m.timeS >> m.kind >> m.targetKind >> m.target >> m.value) &&
                 index == d.mitigations.size() && m.value > 0 &&
                 ((m.targetKind == "link" && m.target < d.links.size()) ||
                  (m.targetKind == "node" && m.target < d.nodes.size()));
            d.mitigations.push_back(m);
        }
        else if (kind == "probe")
        {
            double timeS;
            ok = static_cast<bool>(ls >> index >> timeS) && index == d.probes.size() && timeS >= 0;
            d.probes.push_back(timeS);
        }
        else
        {
            InputError(path, lineNo, "unknown record '" + kind + "'");
        }
        if (!ok)
        {
            InputError(path, lineNo, "malformed or out-of-range '" + kind + "' record");
        }
    }
    return d;
}

// ------------------------------------------------------------ packet trace

struct TracePacket
{
    double timeS;
    uint16_t ipBytes;
};

/// Reads the binary trace written by ani (kg/traces.py: write_trace) and adds
/// one "trace" flow per trace flow to the input; returns each flow's packets.
std::vector<std::vector<TracePacket>>
ReadTrace(const std::string& path, Input& d)
{
    std::ifstream in(path, std::ios::binary);
    char magic[8];
    uint32_t nFlows = 0, reserved = 0;
    uint64_t nPackets = 0;
    in.read(magic, 8);
    in.read(reinterpret_cast<char*>(&nFlows), 4);
    in.read(reinterpret_cast<char*>(&reserved), 4);
    in.read(reinterpret_cast<char*>(&nPackets), 8);
    if (!in || std::string(magic, 8) != std::string("ANITRC1\0", 8))
    {
        InputError(path, 0, "not an ani trace file");
    }
    if (d.flows.size() + nFlows > 55000)
    {
        InputError(path, 0, "too many flows for one run (sample the trace's flows)");
    }
    size_t first = d.flows.size();
    for (uint32_t f = 0; f < nFlows; ++f)
    {
        uint32_t ends[2];
        in.read(reinterpret_cast<char*>(ends), 8);
        if (!in || ends[0] >= d.nodes.size() || ends[1] >= d.nodes.size())
        {
            InputError(path, 0, "flow record out of range");
        }
        d.flows.push_back(FlowSpec{ends[0], ends[1], 0, 0, 0, 0, "trace"});
    }
    std::vector<std::vector<TracePacket>> packets(nFlows);
    for (uint64_t k = 0; k < nPackets; ++k)
    {
        struct
        {
            double t;
            uint32_t flow;
            uint16_t bytes, pad;
        } rec;
        in.read(reinterpret_cast<char*>(&rec), 16);
        if (!in || rec.flow >= nFlows || rec.t < 0)
        {
            InputError(path, 0, "packet record " + std::to_string(k) + " truncated or out of range");
        }
        packets[rec.flow].push_back(TracePacket{rec.t, rec.bytes});
    }
    for (uint32_t f = 0; f < nFlows; ++f)
    {
        FlowSpec& fs = d.flows[first + f];
        const auto& p = packets[f];
        double bytes = 0;
        for (const auto& x : p)
        {
            bytes += x.ipBytes;
        }
        fs.startS = p.empty() ? 0 : p.front().timeS;
        fs.stopS = p.empty() ? 0 : p.back().timeS;
        fs.packetBytes = p.empty() ? 0 : static_cast<uint32_t>(bytes / p.size());
        fs.rateBps = fs.stopS > fs.startS ? bytes * 8 / (fs.stopS - fs.startS) : 0;
    }
    return packets;
}

} // namespace
