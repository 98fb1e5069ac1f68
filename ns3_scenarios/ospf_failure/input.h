// ospf_failure/input.h - part of scenario.cc (included in this order: input.h, medium.h, measurement.h, routing.h, network.h, convergence.h, events.h, traffic.h, outputs.h).
//
// The program's input: its scalar parameters (one table, set on the command line with
// --name=value; `./scenario --PrintHelp` lists them with their defaults), the data file `ani`
// writes (input.txt: nodes, links, flows, events, probes, mitigations, the simulation's
// duration; format in README.md) and the optional binary packet trace.
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

// ------------------------------------------------------------ scalar parameters (the command line)

enum class ParamType
{
    Float,
    Int,
    Bool
};

/// One scalar parameter: `--name=value` sets it, `--PrintHelp` lists it with its default.
struct ParamDecl
{
    const char* name;
    ParamType type;
    double defaultValue; // a bool: 0 or 1
    double min, max;     // the accepted range (a bool: 0, 1)
    const char* unit;
    const char* help;
};

/// Every scalar parameter the program reads (Input::Param), declared once. Names, types,
/// defaults and ranges are the manifest's: `ani` checks that when it loads the template and
/// reads this table to pass a run's values as --name=value (ani.ns3_scenarios.program_params).
/// One entry per line between the two marks. The manifest's other parameters (load_factor,
/// capacity_scale, warmup_s, ...) shape input.txt: `ani` applies them when it writes the file.
const ParamDecl kParameters[] = {
    // ani:parameters begin
    {"seed", ParamType::Int, 1, 1, 1e9, "", "ns-3 run number (RngRun sets it too): the same seed gives the same result"},
    {"detect_delay_s", ParamType::Float, 0.05, 0, 120, "s", "failure detection: 0.05 ~ BFD (3 x 16.7 ms), 40 = OSPF dead interval"},
    {"lsa_hop_delay_s", ParamType::Float, 0.002, 0, 10, "s", "LSA flooding: per-hop processing on top of the link propagation delay"},
    {"spf_delay_s", ParamType::Float, 0.2, 0, 60, "s", "SPF initial wait after the topology change is known"},
    {"spf_hold_s", ParamType::Float, 0.2, 0, 60, "s", "SPF throttling: minimum time between two route recomputations"},
    {"spf_max_hold_s", ParamType::Float, 0.2, 0, 600, "s", "SPF back-off: the hold doubles up to this (below spf_hold_s: no back-off)"},
    {"fib_delay_s", ParamType::Float, 0.05, 0, 10, "s", "time to install the new routes into the forwarding table"},
    {"ecmp", ParamType::Bool, 0, 0, 1, "", "split traffic over equal-cost paths (per flow: a hash of the address pair)"},
    {"queue_packets", ParamType::Int, 100, 1, 100000, "packets", "drop-tail queue of every link direction"},
    {"cpu_queue_packets", ParamType::Int, 1000, 1, 1000000, "packets", "packets a router CPU holds before it drops"},
    {"cascades", ParamType::Bool, 0, 0, 1, "", "let failures emerge (a router's CPU or a link's queue overloaded for cascade_hold_s)"},
    {"cascade_hold_s", ParamType::Float, 0.2, 0, 60, "s", "how long a condition must hold before the failure emerges"},
    {"cascade_cpu_threshold", ParamType::Float, 0.95, 0, 1, "", "CPU utilisation that counts as overload"},
    {"cascade_drop_ratio", ParamType::Float, 0.05, 0, 1, "", "share of a link direction's packets dropped at its queue that counts as overflow"},
    {"interval_s", ParamType::Float, 0.05, 0.001, 60, "s", "width of the time-series bins"},
    {"histogram_bin_s", ParamType::Float, 0.0001, 1e-6, 0.1, "s", "FlowMonitor delay and jitter histogram bin width"},
    // ani:parameters end
};

/// The parameters' values: each declared one's default, or the command line's value.
struct ParamValues
{
    std::map<std::string, double> values;
};

/// ``text`` as a value of ``d`` (into ``out``), or the reason it is not one.
std::string
ParseParamValue(const ParamDecl& d, const std::string& text, double& out)
{
    if (d.type == ParamType::Bool)
    {
        std::string t;
        for (unsigned char c : text)
        {
            t += static_cast<char>(std::tolower(c));
        }
        bool yes = t.empty() || t == "1" || t == "true" || t == "yes" || t == "on";
        bool no = t == "0" || t == "false" || t == "no" || t == "off";
        out = yes ? 1 : 0;
        return yes || no ? "" : "not a bool (true or false)";
    }
    char* end = nullptr;
    out = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(out))
    {
        return "not a number";
    }
    if (d.type == ParamType::Int && out != std::floor(out))
    {
        return "not an integer";
    }
    std::ostringstream why;
    why << std::setprecision(12);
    if (out < d.min || out > d.max)
    {
        why << (out < d.min ? "below the minimum " : "above the maximum ") << (out < d.min ? d.min : d.max);
    }
    return why.str();
}

/// Command-line callback: sets ``d`` from ``text``, or one line naming the argument and exit 2.
bool
SetParam(ParamValues* p, const ParamDecl* d, const std::string& text)
{
    double value = 0;
    std::string why = ParseParamValue(*d, text, value);
    if (!why.empty())
    {
        std::cerr << "--" << d->name << "=" << text << ": " << why << "\n";
        std::exit(2);
    }
    p->values[d->name] = value;
    return true;
}

std::string
ParamDefault(const ParamDecl& d)
{
    std::ostringstream s;
    if (d.type == ParamType::Bool)
    {
        s << (d.defaultValue != 0 ? "true" : "false");
    }
    else
    {
        s << std::setprecision(12) << d.defaultValue;
    }
    return s.str();
}

std::string
ParamHelp(const ParamDecl& d)
{
    std::ostringstream s;
    s << std::setprecision(12) << d.help;
    if (d.type != ParamType::Bool)
    {
        s << " (" << (*d.unit ? d.unit : "") << (*d.unit ? ", " : "") << d.min << " to " << d.max
          << (d.type == ParamType::Int ? ", integer" : "") << ")";
    }
    return s.str();
}

/// Registers every parameter of kParameters with ``cmd``; ``p`` holds their defaults until parsed.
void
AddParameters(CommandLine& cmd, ParamValues& p)
{
    for (const ParamDecl& d : kParameters)
    {
        p.values[d.name] = d.defaultValue;
        cmd.AddValue(d.name, ParamHelp(d), MakeBoundCallback(&SetParam, &p, &d), ParamDefault(d));
    }
}

/// The run number: --seed, or ns-3's own RngRun (--RngRun=N or NS_GLOBAL_VALUE=RngRun=N, as SEM
/// passes it next to every other option at its default). Both default to 1: the one set to
/// anything else wins; both set to different values other than 1 is an error (one line, exit 2).
void
SetRunNumber(ParamValues& p)
{
    double rngRun = static_cast<double>(RngSeedManager::GetRun());
    double& seed = p.values["seed"];
    if (seed != 1 && rngRun != 1 && seed != rngRun)
    {
        std::cerr << "--seed=" << seed << " and RngRun=" << rngRun << " disagree: give one of them\n";
        std::exit(2);
    }
    seed = seed != 1 ? seed : rngRun;
    RngSeedManager::SetSeed(1);
    RngSeedManager::SetRun(static_cast<uint64_t>(seed));
}

// ------------------------------------------------------------ the input file

struct Input
{
    std::map<std::string, double> params; // the scalar parameters (kParameters), as set
    double durationS = 0;                 // the simulation stops here (a `duration` record)
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
            std::cerr << "program reads parameter '" << name << "', which kParameters (input.h) does not declare\n";
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
            InputError(path, lineNo, "'param' records are command-line arguments now: --name=value "
                                     "(./scenario --PrintHelp lists them)");
        }
        else if (kind == "duration")
        {
            ok = static_cast<bool>(ls >> d.durationS) && d.durationS > 0 && std::isfinite(d.durationS);
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
    if (d.durationS <= 0)
    {
        InputError(path, 0, "no 'duration' record (the simulation's end, in s)");
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
