// ani template "ospf_failure": a backbone under timed OSPF-like convergence.
//
// Self-contained ns-3 3.44 program. It reads every value it uses from a data
// file (--input, written by `ani` from validated values; see README.md for the
// format) and writes its results into --out:
//   flowmon.xml        FlowMonitor statistics with histograms
//   flows.csv          per application flow: offered load, sent, refused, received, delays
//                      (class demand: gravity CBR; attack: a traffic_spike's; probe: a
//                      high-rate probe of small packets; trace: replayed packets)
//   timeseries.csv     per flow and interval: sent / refused / delivered by send time, received by receive time
//   event_probes.csv   per flow and probe time (the events' times): last delivery of a packet
//                      sent before, first delivery of a packet sent at or after
//   events.csv         what the twin did when (inject, detect, reconverge, restore)
//   links.csv          per link direction: transmitted packets and bytes, queue drops
//   link_timeseries.csv per link direction and interval: packets, bytes, queue length, drops
//   node_timeseries.csv per router with a CPU model and interval: utilisation, CPU drops
//   cascades.csv       injected and emerged events, each emerged one with its cause and depth
//   drops.csv          UDP packets dropped anywhere, by reason (queue, medium, cpu, ip_<reason>):
//                      with the flows' counters, sent = received + dropped (nothing is in flight)
//
// Routing: AniRouting, a link-state protocol of the template's own (Dijkstra
// over OSPF costs, ECMP next hops). A failure: at the event the medium drops
// every packet; after detect_delay_s the ends notice and flood an LSA; each
// router runs SPF when the LSA reaches it (spf_delay_s, spf_hold_s) and
// installs its routes fib_delay_s later.
//
// Build:  g++ -O2 -std=c++20 scenario.cc -I$NS3/include -L$NS3/lib64 -lns3.44-... (see run.sh)
// Run:    ./scenario --input=input.txt --out=.

#include "ns3/applications-module.h"
#include "ns3/core-module.h"
#include "ns3/flow-monitor-module.h"
#include "ns3/internet-module.h"
#include "ns3/network-module.h"
#include "ns3/point-to-point-module.h"

#include <chrono>
#include <cmath>
#include <deque>
#include <fstream>
#include <iomanip>
#include <limits>
#include <functional>
#include <map>
#include <queue>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

using namespace ns3;

namespace
{

// ---------------------------------------------------------------- input data

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

// ------------------------------------------------------- failure of a medium

/// Drops every packet: a cut fibre or a dead line card, before anybody notices.
class LinkDownErrorModel : public ErrorModel
{
  public:
    static TypeId GetTypeId()
    {
        static TypeId tid = TypeId("ani::LinkDownErrorModel")
                                .SetParent<ErrorModel>()
                                .AddConstructor<LinkDownErrorModel>();
        return tid;
    }

  private:
    bool DoCorrupt(Ptr<Packet>) override
    {
        return true;
    }

    void DoReset() override
    {
    }
};

/// Gray failure: drops a fraction of the packets while the link stays up, so
/// routing never reacts. Its random stream is fixed per link direction, so a
/// run is reproducible whatever else changes.
class GrayErrorModel : public ErrorModel
{
  public:
    static TypeId GetTypeId()
    {
        static TypeId tid =
            TypeId("ani::GrayErrorModel").SetParent<ErrorModel>().AddConstructor<GrayErrorModel>();
        return tid;
    }

    void Configure(double loss, int64_t stream)
    {
        m_loss = loss;
        m_rv = CreateObject<UniformRandomVariable>();
        m_rv->SetStream(stream);
    }

  private:
    bool DoCorrupt(Ptr<Packet>) override
    {
        return m_rv->GetValue() < m_loss;
    }

    void DoReset() override
    {
    }

    double m_loss = 0;
    Ptr<UniformRandomVariable> m_rv;
};

/// Whether a packet (starting with a PPP header when `ppp`) carries UDP: the
/// flows' packets, not the ICMP errors routers send back.
bool
IsUdp(Ptr<const Packet> p, bool ppp)
{
    Ptr<Packet> copy = p->Copy();
    if (ppp)
    {
        PppHeader h;
        copy->RemoveHeader(h);
        if (h.GetProtocol() != 0x0021)
        {
            return false;
        }
    }
    Ipv4Header ip;
    return copy->PeekHeader(ip) && ip.GetProtocol() == UdpL4Protocol::PROT_NUMBER;
}

/// A router's forwarding CPU: every packet the router receives waits in a FIFO
/// of at most cpu_queue_packets and is served at the CPU's current rate (pps
/// packets/s), so a CPU scaled up (scale_cpu) or down (router_overload) serves
/// its backlog at the new rate. Models processing delay, and drops under overload.
struct Cpu
{
    struct Waiting
    {
        Ptr<NetDevice> dev;
        Ptr<const Packet> packet;
        uint16_t protocol;
        Address from;
    };

    double basePps = 0, pps = 0;
    double queueLimit = 1000;
    double busyS = 0; // service time spent in the current monitor interval
    uint64_t drops = 0, intervalDrops = 0, udpDrops = 0;
    std::deque<Waiting> queue; // the packet in service first
    int hotTicks = 0;
    double hotSince = 0; // when the current overload streak was first observed
    Ptr<Ipv4L3Protocol> ipv4;
};

/// The CPU finished the packet at the head of its queue: IP handles it; the next one starts.
void
CpuServe(Cpu* c)
{
    Cpu::Waiting w = c->queue.front();
    c->queue.pop_front();
    c->ipv4->Receive(w.dev, w.packet, w.protocol, w.from, w.dev->GetAddress(), NetDevice::PACKET_HOST);
    if (!c->queue.empty())
    {
        c->busyS += 1.0 / c->pps;
        Simulator::Schedule(Seconds(1.0 / c->pps), &CpuServe, c);
    }
}

bool
CpuReceive(Cpu* c, Ptr<NetDevice> dev, Ptr<const Packet> p, uint16_t protocol, const Address& from)
{
    if (c->queue.size() > c->queueLimit)
    {
        ++c->drops;
        ++c->intervalDrops;
        c->udpDrops += protocol == Ipv4L3Protocol::PROT_NUMBER && IsUdp(p, false) ? 1 : 0;
        return true;
    }
    c->queue.push_back(Cpu::Waiting{dev, p, protocol, from});
    if (c->queue.size() == 1)
    {
        c->busyS += 1.0 / c->pps;
        Simulator::Schedule(Seconds(1.0 / c->pps), &CpuServe, c);
    }
    return true;
}

// ------------------------------------------------------ per-flow measurement

struct Bin
{
    uint64_t tx = 0, txFailed = 0, rxBySend = 0, rx = 0, rxBytes = 0;
    double delaySum = 0;
};

struct FlowStats
{
    uint64_t tx = 0, txFailed = 0, rx = 0, rxBytes = 0;
    double delaySum = 0, delayMin = std::numeric_limits<double>::infinity(), delayMax = 0;
    std::map<int64_t, Bin> bins;
    std::map<int64_t, uint64_t> delayHist; // delay bin index (histogram_bin_s wide) -> packets
    std::vector<double> lastRxBefore, firstSendAfter, firstRxAfter; // per event
};

struct Measurement
{
    double intervalS = 0.05;
    double histogramBinS = 1e-4; // FlowMonitor's DelayBinWidth: the same bins
    std::vector<double> eventTimes;
    std::vector<FlowStats> flows;
    std::vector<uint16_t> srcPorts; // per flow: its UDP source port (see InstallTraffic)

    Bin& At(uint32_t flow, double t)
    {
        return flows[flow].bins[static_cast<int64_t>(std::floor(t / intervalS))];
    }
};

/// Constant-bit-rate UDP sender from a fixed source address, so rerouting
/// never changes the flow's 5-tuple. Each packet carries a sequence number and
/// its send time (SeqTsHeader).
///
/// It needs no socket: it hands its packets to UDP exactly as a socket bound
/// to (local, port) and connected to (remote, sinkPort) does
/// (UdpL4Protocol::Send, IP routes them). A socket per flow would put one
/// endpoint per flow into the node's UDP demultiplexer, which every arriving
/// packet scans linearly: with thousands of flows the twin's largest cost.
///
/// A socket bound to a fixed address hands packets to IP without a route, and
/// IP drops them silently when it has none (FlowMonitor never sees them). So
/// the sender asks the routing protocol first and counts a send without a
/// route as refused (tx_failed): what a router with no path to the destination
/// does with its customers' traffic.
class CbrSender : public Application
{
  public:
    CbrSender(Measurement* m, uint32_t flow, Ipv4Address local, Ipv4Address remote, uint16_t port,
              uint16_t sinkPort, double rateBps, uint32_t bytes, double stopS,
              const std::vector<TracePacket>* trace = nullptr)
        : m_trace(trace),
          m_stop(Seconds(stopS)),
          m_m(m),
          m_flow(flow),
          m_local(local),
          m_remote(remote),
          m_port(port),
          m_sinkPort(sinkPort),
          m_bytes(bytes),
          m_gap(Seconds(rateBps > 0 ? bytes * 8.0 / rateBps : 1.0)),
          m_rateBps(rateBps)
    {
    }

    /// Polices the flow at its ingress to `factor` of its offered rate (rate_limit mitigation).
    void SetRateFactor(double factor)
    {
        m_gap = Seconds(m_bytes * 8.0 / (m_rateBps * factor));
    }

    /// Replayed packets: the IP length of the original minus UDP/IP headers,
    /// at least the 12-byte sequence/timestamp header (smaller packets are padded).
    static uint32_t Payload(uint16_t ipBytes)
    {
        return std::max<uint32_t>(12, ipBytes > 28 ? ipBytes - 28 : 0);
    }

  private:
    void StartApplication() override
    {
        m_udp = GetNode()->GetObject<UdpL4Protocol>();
        m_routing = GetNode()->GetObject<Ipv4>()->GetRoutingProtocol();
        m_probe.SetSource(m_local);
        m_probe.SetDestination(m_remote);
        m_probe.SetProtocol(UdpL4Protocol::PROT_NUMBER);
        m_event = Simulator::ScheduleNow(&CbrSender::Send, this);
    }

    void StopApplication() override
    {
        Simulator::Cancel(m_event);
    }

    void Send()
    {
        SeqTsHeader h;
        h.SetSeq(m_seq++);
        uint32_t bytes = m_trace ? Payload((*m_trace)[m_next].ipBytes) : m_bytes;
        Ptr<Packet> p = Create<Packet>(bytes - h.GetSerializedSize());
        p->AddHeader(h);
        double now = Simulator::Now().GetSeconds();
        FlowStats& s = m_m->flows[m_flow];
        Socket::SocketErrno err;
        if (m_routing->RouteOutput(p, m_probe, nullptr, err))
        {
            m_udp->Send(p, m_local, m_remote, m_port, m_sinkPort, nullptr);
            ++s.tx;
            ++m_m->At(m_flow, now).tx;
        }
        else
        {
            ++s.txFailed;
            ++m_m->At(m_flow, now).txFailed;
        }
        if (!m_trace)
        {
            // the flow sends in [start, stop) only, so the network drains before the end
            if (Simulator::Now() + m_gap < m_stop)
            {
                m_event = Simulator::Schedule(m_gap, &CbrSender::Send, this);
            }
        }
        else if (++m_next < m_trace->size())
        {
            m_event = Simulator::Schedule(Seconds((*m_trace)[m_next].timeS) - Simulator::Now(),
                                          &CbrSender::Send, this);
        }
    }

    const std::vector<TracePacket>* m_trace; // replayed packets, or nullptr for constant bit rate
    Time m_stop;                              // no constant-bit-rate send at or after this time
    size_t m_next = 0;

    Measurement* m_m;
    uint32_t m_flow;
    Ipv4Address m_local, m_remote;
    uint16_t m_port, m_sinkPort;
    uint32_t m_bytes;
    Time m_gap;
    double m_rateBps;
    Ptr<Ipv4RoutingProtocol> m_routing;
    Ptr<UdpL4Protocol> m_udp;
    Ipv4Header m_probe;
    uint32_t m_seq = 0;
    EventId m_event;
};

/// The UDP sink of every flow to one node (one socket on the sink port): per
/// flow, found by the sender's (address, port), delay, loss by send interval,
/// per-event delivery probes.
class FlowSink : public Application
{
  public:
    FlowSink(Measurement* m, uint16_t port)
        : m_m(m),
          m_port(port)
    {
    }

    /// Packets from (src, srcPort) belong to `flow`.
    void AddFlow(Ipv4Address src, uint16_t srcPort, uint32_t flow)
    {
        m_flows[Key(src, srcPort)] = flow;
    }

  private:
    void StartApplication() override
    {
        m_socket = Socket::CreateSocket(GetNode(), UdpSocketFactory::GetTypeId());
        m_socket->Bind(InetSocketAddress(Ipv4Address::GetAny(), m_port));
        m_socket->SetRecvCallback(MakeCallback(&FlowSink::Receive, this));
    }

    void StopApplication() override
    {
        if (m_socket)
        {
            m_socket->SetRecvCallback(MakeNullCallback<void, Ptr<Socket>>());
        }
    }

    void Receive(Ptr<Socket> socket)
    {
        Ptr<Packet> p;
        Address from;
        while ((p = socket->RecvFrom(from)))
        {
            InetSocketAddress peer = InetSocketAddress::ConvertFrom(from);
            auto it = m_flows.find(Key(peer.GetIpv4(), peer.GetPort()));
            if (it == m_flows.end())
            {
                continue; // not a flow of the twin's
            }
            SeqTsHeader h;
            p->PeekHeader(h);
            Record(it->second, h.GetTs(), p->GetSize());
        }
    }

    static uint64_t Key(Ipv4Address src, uint16_t srcPort)
    {
        return (uint64_t(src.Get()) << 16) | srcPort;
    }

    void Record(uint32_t flow, Time sentAt, uint32_t bytes)
    {
        FlowStats& s = m_m->flows[flow];
        // the delay histogram bins it as FlowMonitor's does (Histogram::AddValue)
        ++s.delayHist[static_cast<int64_t>(std::floor((Simulator::Now() - sentAt).GetSeconds() /
                                                      m_m->histogramBinS))];
        double sent = sentAt.GetSeconds(), now = Simulator::Now().GetSeconds();
        double delay = now - sent;
        ++s.rx;
        s.rxBytes += bytes;
        s.delaySum += delay;
        s.delayMin = std::min(s.delayMin, delay);
        s.delayMax = std::max(s.delayMax, delay);
        ++m_m->At(flow, sent).rxBySend;
        Bin& b = m_m->At(flow, now);
        ++b.rx;
        b.rxBytes += bytes;
        b.delaySum += delay;
        for (size_t k = 0; k < m_m->eventTimes.size(); ++k)
        {
            if (sent < m_m->eventTimes[k])
            {
                // fmax ignores the NaN that marks "nothing delivered yet"
                s.lastRxBefore[k] = std::fmax(s.lastRxBefore[k], now);
            }
            else if (std::isnan(s.firstRxAfter[k]))
            {
                s.firstRxAfter[k] = now;
                s.firstSendAfter[k] = sent;
            }
        }
    }

    Measurement* m_m;
    uint16_t m_port;
    Ptr<Socket> m_socket;
    std::unordered_map<uint64_t, uint32_t> m_flows; // Key(src, srcPort) -> flow
};

// ------------------------------------------------------------------ routing

/// OSPF-like forwarding between router loopbacks (10.255.0.0/16): each router
/// holds, per destination router, the interfaces of its equal-cost shortest
/// paths, installed by the twin at that router's own FIB-update time. O(1)
/// lookups (ns-3's global routing scans every route per packet). With ECMP on,
/// a flow (source, destination address pair) always takes the same path.
class AniRouting : public Ipv4RoutingProtocol
{
  public:
    static TypeId GetTypeId()
    {
        static TypeId tid =
            TypeId("ani::AniRouting").SetParent<Ipv4RoutingProtocol>().AddConstructor<AniRouting>();
        return tid;
    }

    struct Hop
    {
        uint32_t iface;
        Ipv4Address gateway;
    };

    void SetTable(std::vector<std::vector<Hop>> next, bool ecmp)
    {
        m_next = std::move(next);
        m_ecmp = ecmp;
    }

    void Clear()
    {
        for (auto& hops : m_next)
        {
            hops.clear();
        }
    }

    Ptr<Ipv4Route> RouteOutput(Ptr<Packet>, const Ipv4Header& header, Ptr<NetDevice>,
                               Socket::SocketErrno& err) override
    {
        Ptr<Ipv4Route> route = Lookup(header.GetSource(), header.GetDestination());
        err = route ? Socket::ERROR_NOTERROR : Socket::ERROR_NOROUTETOHOST;
        return route;
    }

    bool RouteInput(Ptr<const Packet> p, const Ipv4Header& header, Ptr<const NetDevice> idev,
                    const UnicastForwardCallback& ucb, const MulticastForwardCallback&,
                    const LocalDeliverCallback& lcb, const ErrorCallback&) override
    {
        uint32_t iif = m_ipv4->GetInterfaceForDevice(idev);
        if (m_ipv4->IsDestinationAddress(header.GetDestination(), iif))
        {
            if (lcb.IsNull())
            {
                return false;
            }
            lcb(p, header, iif);
            return true;
        }
        Ptr<Ipv4Route> route = Lookup(header.GetSource(), header.GetDestination());
        if (!route)
        {
            return false; // Ipv4L3Protocol drops it (DROP_NO_ROUTE)
        }
        ucb(route, p, header);
        return true;
    }

    void NotifyInterfaceUp(uint32_t) override
    {
    }

    void NotifyInterfaceDown(uint32_t) override
    {
    }

    void NotifyAddAddress(uint32_t, Ipv4InterfaceAddress) override
    {
    }

    void NotifyRemoveAddress(uint32_t, Ipv4InterfaceAddress) override
    {
    }

    void SetIpv4(Ptr<Ipv4> ipv4) override
    {
        m_ipv4 = ipv4;
    }

    void PrintRoutingTable(Ptr<OutputStreamWrapper> stream, Time::Unit) const override
    {
        for (size_t d = 0; d < m_next.size(); ++d)
        {
            for (const Hop& h : m_next[d])
            {
                *stream->GetStream() << "router " << d << " via if " << h.iface << " " << h.gateway << "\n";
            }
        }
    }

  private:
    Ptr<Ipv4Route> Lookup(Ipv4Address src, Ipv4Address dst) const
    {
        uint32_t a = dst.Get();
        if ((a & 0xffff0000u) != ((10u << 24) | (255u << 16)))
        {
            return nullptr;
        }
        uint32_t d = (a & 0xffffu) - 1;
        if (d >= m_next.size() || m_next[d].empty())
        {
            return nullptr;
        }
        const std::vector<Hop>& hops = m_next[d];
        uint64_t h = (uint64_t(src.Get()) * 0x9E3779B97F4A7C15ull) ^ a;
        const Hop& hop = hops[m_ecmp ? (h >> 17) % hops.size() : 0];
        if (!m_ipv4->IsUp(hop.iface))
        {
            // the FIB still points at an interface that went down (detected, not yet re-routed):
            // no route, so IP drops the packet with a trace (ns-3 would drop it silently)
            return nullptr;
        }
        Ptr<Ipv4Route> route = Create<Ipv4Route>();
        route->SetDestination(dst);
        route->SetGateway(hop.gateway);
        route->SetSource(src == Ipv4Address::GetAny() ? m_ipv4->GetAddress(1, 0).GetLocal() : src);
        route->SetOutputDevice(m_ipv4->GetNetDevice(hop.iface));
        return route;
    }

    Ptr<Ipv4> m_ipv4;
    std::vector<std::vector<Hop>> m_next;
    bool m_ecmp = false;
};

class AniRoutingHelper : public Ipv4RoutingHelper
{
  public:
    AniRoutingHelper* Copy() const override
    {
        return new AniRoutingHelper(*this);
    }

    Ptr<Ipv4RoutingProtocol> Create(Ptr<Node>) const override
    {
        return CreateObject<AniRouting>();
    }
};

// ------------------------------------------------------------------ network

struct LinkState
{
    Ptr<PointToPointNetDevice> dev[2];
    uint32_t iface[2];
    uint64_t txPackets[2] = {0, 0}, txBytes[2] = {0, 0}, drops[2] = {0, 0};
    uint64_t tickTx[2] = {0, 0}, tickBytes[2] = {0, 0}, tickDrops[2] = {0, 0};
    int hotTicks[2] = {0, 0};
    double hotSince[2] = {0, 0}; // when the current overflow streak was first observed
    int downCount = 0; // events holding the medium down (a link may be in several)
    bool failed = false;
};

struct Twin
{
    Input in;
    NodeContainer nodes;
    std::vector<LinkState> links;
    std::vector<Ipv4Address> loopback;
    std::vector<std::vector<uint32_t>> incident; // node -> link indices
    std::vector<Cpu> cpus;                       // per node; pps == 0: no CPU model
    std::vector<bool> nodeFailed;
    std::ofstream eventLog, linkSeries, nodeSeries, cascades;
    std::vector<std::pair<double, int>> applied; // (time, event) of every event applied, in time order
    std::map<std::string, uint64_t> drops;       // UDP packets dropped, by reason (see drops.csv)
    // link-state database: what routers know (links down only once detected)
    std::vector<bool> lsdbUp;
    std::vector<uint64_t> lsdbCost;
    std::vector<Ptr<AniRouting>> routing;
    std::vector<double> lastSpf;                     // per router: SPF throttling
    std::vector<double> spfHold;                     // per router: the current (backed-off) hold
    std::vector<bool> spfPending;                    // per router: an SPF run is scheduled
    std::vector<std::vector<uint32_t>> awaiting;     // per router: events its next FIB install covers
    std::map<uint32_t, uint32_t> installsLeft;       // per event: routers still to install
    std::vector<Ptr<CbrSender>> senders;             // per flow
};

Ipv4Address
LoopbackAddress(uint32_t node)
{
    return Ipv4Address((10u << 24) | (255u << 16) | (node + 1));
}

/// A /32 "loopback" on a one-port segment: the router's identity. Traffic runs
/// between loopbacks, so it stays reachable while any of the router's links is up.
void
AddLoopback(Ptr<Node> node, Ipv4Address addr)
{
    Ptr<SimpleNetDevice> dev = CreateObject<SimpleNetDevice>();
    dev->SetAddress(Mac48Address::Allocate());
    dev->SetChannel(CreateObject<SimpleChannel>());
    node->AddDevice(dev);
    Ptr<Ipv4> ipv4 = node->GetObject<Ipv4>();
    uint32_t i = ipv4->AddInterface(dev);
    ipv4->AddAddress(i, Ipv4InterfaceAddress(addr, Ipv4Mask("255.255.255.255")));
    ipv4->SetUp(i);
}

void
CountTx(LinkState* l, int side, Ptr<const Packet> p)
{
    ++l->txPackets[side];
    l->txBytes[side] += p->GetSize();
    ++l->tickTx[side];
    l->tickBytes[side] += p->GetSize();
}

/// A dropped frame on a device (`PhyRxDrop`: the medium or a gray failure dropped it).
void
CountDeviceDrop(uint64_t* counter, Ptr<const Packet> p)
{
    *counter += IsUdp(p, true) ? 1 : 0;
}

/// A packet IP dropped (no route, TTL expired in a micro-loop, interface down, ...).
void
CountIpDrop(std::map<std::string, uint64_t>* drops, const Ipv4Header& h, Ptr<const Packet>,
            Ipv4L3Protocol::DropReason reason, Ptr<Ipv4>, uint32_t)
{
    static const std::map<int, std::string> names = {
        {Ipv4L3Protocol::DROP_TTL_EXPIRED, "ip_ttl_expired"}, {Ipv4L3Protocol::DROP_NO_ROUTE, "ip_no_route"},
        {Ipv4L3Protocol::DROP_BAD_CHECKSUM, "ip_bad_checksum"},
        {Ipv4L3Protocol::DROP_INTERFACE_DOWN, "ip_interface_down"},
        {Ipv4L3Protocol::DROP_ROUTE_ERROR, "ip_route_error"},
        {Ipv4L3Protocol::DROP_FRAGMENT_TIMEOUT, "ip_fragment_timeout"}};
    if (h.GetProtocol() == UdpL4Protocol::PROT_NUMBER)
    {
        auto it = names.find(reason);
        ++(*drops)[it != names.end() ? it->second : "ip_other"];
    }
}

void
CountDrop(LinkState* l, int side, Ptr<const Packet>)
{
    ++l->drops[side];
    ++l->tickDrops[side];
}

/// Routes every packet a router receives through its CPU (when it has one).
void
InstallCpus(Twin& t)
{
    t.cpus.resize(t.in.nodes.size());
    t.nodeFailed.assign(t.in.nodes.size(), false);
    for (uint32_t n = 0; n < t.in.nodes.size(); ++n)
    {
        Cpu& c = t.cpus[n];
        c.basePps = c.pps = t.in.nodeSpecs[n].cpuPps;
        if (c.basePps <= 0)
        {
            continue;
        }
        c.queueLimit = t.in.Param("cpu_queue_packets");
        c.ipv4 = t.nodes.Get(n)->GetObject<Ipv4L3Protocol>();
        for (uint32_t k : t.incident[n])
        {
            int side = t.in.links[k].u == n ? 0 : 1;
            t.links[k].dev[side]->SetReceiveCallback(MakeBoundCallback(&CpuReceive, &c));
        }
    }
}

// -------------------------------------------------------- link-state routing

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

/// SPF of router r: for every destination router, the interfaces of all
/// equal-cost shortest paths (sorted by interface index).
std::vector<std::vector<AniRouting::Hop>>
SpfTable(const Twin& t, uint32_t r)
{
    std::function<uint64_t(uint32_t)> cost = [&t](uint32_t l) { return t.lsdbCost[l]; };
    std::vector<uint64_t> mine = ShortestFrom<uint64_t>(t, {r}, kUnreachable, cost);
    std::vector<std::vector<AniRouting::Hop>> next(t.in.nodes.size());
    for (uint32_t l : t.incident[r])
    {
        const LinkSpec& ls = t.in.links[l];
        if (!t.lsdbUp[l])
        {
            continue;
        }
        int side = ls.u == r ? 0 : 1;
        uint32_t neighbour = side == 0 ? ls.v : ls.u;
        std::vector<uint64_t> theirs = ShortestFrom<uint64_t>(t, {neighbour}, kUnreachable, cost);
        Ipv4Address gateway((10u << 24) + l * 4u + (1 - side) + 1);
        for (uint32_t d = 0; d < next.size(); ++d)
        {
            if (d != r && theirs[d] != kUnreachable && t.lsdbCost[l] + theirs[d] == mine[d])
            {
                next[d].push_back(AniRouting::Hop{t.links[l].iface[side], gateway});
            }
        }
    }
    return next;
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
        t.routing[r]->SetTable(SpfTable(t, r), ecmp);
    }
}

void
BuildNetwork(Twin& t)
{
    const Input& in = t.in;
    t.nodes.Create(in.nodes.size());
    InternetStackHelper stack;
    stack.SetRoutingHelper(AniRoutingHelper());
    stack.Install(t.nodes);
    t.incident.resize(in.nodes.size());
    for (uint32_t n = 0; n < in.nodes.size(); ++n)
    {
        t.loopback.push_back(LoopbackAddress(n));
        AddLoopback(t.nodes.Get(n), t.loopback.back());
    }
    PointToPointHelper p2p;
    // No flow control: a full device queue drops (tail drop, traced per link) instead of
    // stopping the traffic-control layer, which would drop without saying on which link.
    p2p.DisableFlowControl();
    p2p.SetQueue("ns3::DropTailQueue<Packet>",
                 "MaxSize",
                 QueueSizeValue(QueueSize(QueueSizeUnit::PACKETS,
                                          static_cast<uint32_t>(in.Param("queue_packets")))));
    t.links.resize(in.links.size());
    for (uint32_t k = 0; k < in.links.size(); ++k)
    {
        const LinkSpec& ls = in.links[k];
        p2p.SetDeviceAttribute("DataRate", DataRateValue(DataRate(static_cast<uint64_t>(ls.capacityBps))));
        p2p.SetChannelAttribute("Delay", TimeValue(Seconds(ls.delayS)));
        NetDeviceContainer devs = p2p.Install(t.nodes.Get(ls.u), t.nodes.Get(ls.v));
        LinkState& st = t.links[k];
        uint32_t ends[2] = {ls.u, ls.v};
        for (int side = 0; side < 2; ++side)
        {
            st.dev[side] = DynamicCast<PointToPointNetDevice>(devs.Get(side));
            Ptr<Ipv4> ipv4 = t.nodes.Get(ends[side])->GetObject<Ipv4>();
            st.iface[side] = ipv4->AddInterface(st.dev[side]);
            // link k gets 10.(k / 16384).((k % 16384) / 64).((k % 64) * 4 + side + 1)/30
            uint32_t base = (10u << 24) + k * 4u;
            ipv4->AddAddress(st.iface[side],
                             Ipv4InterfaceAddress(Ipv4Address(base + side + 1), Ipv4Mask("255.255.255.252")));
            ipv4->SetUp(st.iface[side]);
            st.dev[side]->TraceConnectWithoutContext("PhyTxEnd", MakeBoundCallback(&CountTx, &st, side));
            st.dev[side]->GetQueue()->TraceConnectWithoutContext("Drop",
                                                                 MakeBoundCallback(&CountDrop, &st, side));
            // UDP drops by reason, for the conservation check (MacTxDrop is left out: a full
            // queue fires it too, and the queue's own Drop counts those)
            st.dev[side]->GetQueue()->TraceConnectWithoutContext(
                "Drop", MakeBoundCallback(&CountDeviceDrop, &t.drops["queue"]));
            st.dev[side]->TraceConnectWithoutContext("PhyRxDrop",
                                                     MakeBoundCallback(&CountDeviceDrop, &t.drops["medium"]));
            st.dev[side]->TraceConnectWithoutContext("PhyTxDrop",
                                                     MakeBoundCallback(&CountDeviceDrop, &t.drops["phy_tx"]));
            t.incident[ends[side]].push_back(k);
        }
    }
    InstallCpus(t);
    for (uint32_t n = 0; n < in.nodes.size(); ++n)
    {
        t.nodes.Get(n)->GetObject<Ipv4L3Protocol>()->TraceConnectWithoutContext(
            "Drop", MakeBoundCallback(&CountIpDrop, &t.drops));
    }
    InitRouting(t);
}

// ------------------------------------------------------------------- events

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
Install(Twin* t, uint32_t r, std::vector<std::vector<AniRouting::Hop>> table, std::vector<uint32_t> events)
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

// ------------------------------------------------------------------ traffic

/// Every flow's packets go to SINK_PORT of its destination, where one sink per
/// node receives them all; a flow's source port is FIRST_SRC_PORT + the number
/// of earlier flows between the same two routers, so (source, destination,
/// ports) tells the flows apart (for the sink and for FlowMonitor) at any
/// number of flows.
constexpr uint16_t SINK_PORT = 9;
constexpr uint32_t FIRST_SRC_PORT = 10000;

/// The flows' source ports (see SINK_PORT).
std::vector<uint16_t>
SourcePorts(const Input& in)
{
    std::map<std::pair<uint32_t, uint32_t>, uint32_t> used;
    std::vector<uint16_t> ports;
    for (const FlowSpec& fs : in.flows)
    {
        uint32_t port = FIRST_SRC_PORT + used[{fs.src, fs.dst}]++;
        if (port > 65535)
        {
            NS_FATAL_ERROR("more than " << 65536 - FIRST_SRC_PORT << " flows between two routers");
        }
        ports.push_back(static_cast<uint16_t>(port));
    }
    return ports;
}

void
InstallTraffic(Twin& t, Measurement& m, const std::vector<std::vector<TracePacket>>& trace)
{
    const Input& in = t.in;
    m.intervalS = in.Param("interval_s");
    m.histogramBinS = in.Param("histogram_bin_s");
    m.eventTimes = in.probes;
    m.flows.resize(in.flows.size());
    m.srcPorts = SourcePorts(in);
    std::vector<Ptr<FlowSink>> sinks(in.nodes.size());
    Ptr<UniformRandomVariable> phase = CreateObject<UniformRandomVariable>();
    for (uint32_t f = 0; f < in.flows.size(); ++f)
    {
        const FlowSpec& fs = in.flows[f];
        FlowStats& s = m.flows[f];
        size_t nEvents = in.probes.size();
        s.lastRxBefore.assign(nEvents, std::numeric_limits<double>::quiet_NaN());
        s.firstSendAfter.assign(nEvents, std::numeric_limits<double>::quiet_NaN());
        s.firstRxAfter.assign(nEvents, std::numeric_limits<double>::quiet_NaN());
        if (!sinks[fs.dst])
        {
            sinks[fs.dst] = Create<FlowSink>(&m, SINK_PORT);
            t.nodes.Get(fs.dst)->AddApplication(sinks[fs.dst]);
            sinks[fs.dst]->SetStartTime(Seconds(0));
        }
        sinks[fs.dst]->AddFlow(t.loopback[fs.src], m.srcPorts[f], f);
        size_t firstTrace = in.flows.size() - trace.size();
        const std::vector<TracePacket>* packets = f >= firstTrace ? &trace[f - firstTrace] : nullptr;
        Ptr<CbrSender> src = Create<CbrSender>(&m, f, t.loopback[fs.src], t.loopback[fs.dst], m.srcPorts[f],
                                               SINK_PORT, fs.rateBps, fs.packetBytes, fs.stopS, packets);
        t.nodes.Get(fs.src)->AddApplication(src);
        t.senders.push_back(src);
        if (packets)
        {
            src->SetStartTime(Seconds(fs.startS)); // replayed at the trace's own times
            continue;
        }
        // a random phase inside the first packet gap, never past the flow's stop time
        double gap = std::min(fs.packetBytes * 8.0 / fs.rateBps, fs.stopS - fs.startS);
        src->SetStartTime(Seconds(fs.startS + phase->GetValue(0, gap)));
        src->SetStopTime(Seconds(fs.stopS));
    }
}

// ------------------------------------------------------------------ outputs

std::string
Num(double x)
{
    if (std::isnan(x) || std::isinf(x))
    {
        return "";
    }
    std::ostringstream os;
    os << std::setprecision(12) << x;
    return os.str();
}

void
WriteFlows(const Twin& t, const Measurement& m, const std::string& dir)
{
    std::ofstream o(dir + "/flows.csv");
    o << "flow,src,dst,src_addr,dst_addr,src_port,dst_port,rate_bps,packet_bytes,start_s,stop_s,"
         "tx_packets,tx_failed,rx_packets,rx_bytes,delay_sum_s,delay_min_s,delay_max_s,class\n";
    for (uint32_t f = 0; f < t.in.flows.size(); ++f)
    {
        const FlowSpec& fs = t.in.flows[f];
        const FlowStats& s = m.flows[f];
        o << f << "," << t.in.nodes[fs.src] << "," << t.in.nodes[fs.dst] << "," << t.loopback[fs.src]
          << "," << t.loopback[fs.dst] << "," << m.srcPorts[f] << "," << SINK_PORT << "," << Num(fs.rateBps)
          << "," << fs.packetBytes << "," << Num(fs.startS) << "," << Num(fs.stopS) << "," << s.tx
          << "," << s.txFailed << "," << s.rx << "," << s.rxBytes << "," << Num(s.delaySum) << ","
          << (s.rx ? Num(s.delayMin) : "") << "," << (s.rx ? Num(s.delayMax) : "") << "," << fs.kind
          << "\n";
    }
}

void
WriteTimeseries(const Measurement& m, const std::string& dir)
{
    std::ofstream o(dir + "/timeseries.csv");
    o << "flow,bin,t_start_s,tx_packets,rx_by_send,rx_packets,rx_bytes,delay_sum_s,tx_failed\n";
    for (uint32_t f = 0; f < m.flows.size(); ++f)
    {
        for (const auto& [bin, b] : m.flows[f].bins)
        {
            o << f << "," << bin << "," << Num(bin * m.intervalS) << "," << b.tx << "," << b.rxBySend
              << "," << b.rx << "," << b.rxBytes << "," << Num(b.delaySum) << "," << b.txFailed << "\n";
        }
    }
}

void
WriteProbes(const Measurement& m, const std::string& dir)
{
    std::ofstream o(dir + "/event_probes.csv");
    o << "flow,event,event_time_s,last_rx_before_s,first_send_after_s,first_rx_after_s\n";
    for (uint32_t f = 0; f < m.flows.size(); ++f)
    {
        const FlowStats& s = m.flows[f];
        for (size_t k = 0; k < m.eventTimes.size(); ++k)
        {
            o << f << "," << k << "," << Num(m.eventTimes[k]) << "," << Num(s.lastRxBefore[k]) << ","
              << Num(s.firstSendAfter[k]) << "," << Num(s.firstRxAfter[k]) << "\n";
        }
    }
}

void
WriteLinks(const Twin& t, const std::string& dir)
{
    std::ofstream o(dir + "/links.csv");
    o << "link,from,to,capacity_bps,tx_packets,tx_bytes,drops\n";
    for (uint32_t k = 0; k < t.links.size(); ++k)
    {
        const LinkSpec& ls = t.in.links[k];
        const LinkState& st = t.links[k];
        uint32_t ends[2] = {ls.u, ls.v};
        for (int side = 0; side < 2; ++side)
        {
            o << ls.id << "," << t.in.nodes[ends[side]] << "," << t.in.nodes[ends[1 - side]] << ","
              << Num(ls.capacityBps) << "," << st.txPackets[side] << "," << st.txBytes[side] << ","
              << st.drops[side] << "\n";
        }
    }
}

void
WriteDrops(const Twin& t, const std::string& dir)
{
    std::map<std::string, uint64_t> drops = t.drops;
    for (const Cpu& c : t.cpus)
    {
        drops["cpu"] += c.udpDrops;
    }
    std::ofstream o(dir + "/drops.csv");
    o << "reason,packets\n";
    for (const auto& [reason, packets] : drops)
    {
        o << reason << "," << packets << "\n";
    }
}

/// The q-quantile of a delay histogram, interpolated inside its bin (the same
/// rule as ani.orchestrator.flowmon.histogram_percentile); NaN when empty.
double
HistogramPercentile(const std::map<double, std::pair<double, double>>& bins, double q)
{
    double total = 0;
    for (const auto& [start, wc] : bins)
    {
        total += wc.second;
    }
    if (total <= 0)
    {
        return std::numeric_limits<double>::quiet_NaN();
    }
    double rank = std::min(std::max(q, 0.0), 1.0) * total;
    double cum = 0;
    auto last = bins.end();
    for (auto it = bins.begin(); it != bins.end(); ++it)
    {
        last = it;
        if (cum + it->second.second >= rank)
        {
            break;
        }
        cum += it->second.second;
    }
    const auto& [start, wc] = *last;
    return start + wc.first * (rank - cum) / wc.second;
}

std::string
JsonNum(double x)
{
    if (std::isnan(x) || std::isinf(x))
    {
        return "null";
    }
    std::ostringstream os;
    os << std::setprecision(17) << x;
    return os.str();
}

/// summary.json: the run's headline aggregates, computed from the counters the
/// other files are written from, so that a campaign need not parse them
/// (ani.orchestrator.summary reads it; definitions in ani.orchestrator.kpis).
void
WriteSummary(const Twin& t, const Measurement& m, const std::string& dir)
{
    uint64_t attempts = 0, rx = 0, rxBytes = 0, noRoute = 0;
    double delaySum = 0;
    double first = std::numeric_limits<double>::infinity(), last = -first;
    uint64_t flows = 0;
    for (uint32_t f = 0; f < t.in.flows.size(); ++f)
    {
        const FlowSpec& fs = t.in.flows[f];
        const FlowStats& s = m.flows[f];
        if (std::isfinite(fs.startS))
        {
            first = std::min(first, fs.startS);
        }
        if (std::isfinite(fs.stopS))
        {
            last = std::max(last, fs.stopS);
        }
        if (fs.kind == "probe")
        {
            continue; // probes measure the network; they are not its traffic
        }
        ++flows;
        attempts += s.tx + s.txFailed;
        rx += s.rx;
        rxBytes += s.rxBytes;
        noRoute += s.txFailed;
        delaySum += s.delaySum;
    }
    double span = (std::isfinite(first) && std::isfinite(last)) ? last - first : 0.0;
    // per flow, its packets' delay histogram (FlowMonitor's bins, counted by the sink: one pass)
    double maxP99 = std::numeric_limits<double>::quiet_NaN();
    for (uint32_t f = 0; f < t.in.flows.size(); ++f)
    {
        if (t.in.flows[f].kind == "probe")
        {
            continue;
        }
        std::map<double, std::pair<double, double>> hist;
        for (const auto& [index, count] : m.flows[f].delayHist)
        {
            hist[index * m.histogramBinS] = {m.histogramBinS, double(count)};
        }
        double p = HistogramPercentile(hist, 0.99);
        if (!std::isnan(p) && (std::isnan(maxP99) || p > maxP99))
        {
            maxP99 = p;
        }
    }
    uint64_t congested = 0;
    for (uint32_t k = 0; k < t.links.size(); ++k)
    {
        for (int side = 0; side < 2; ++side)
        {
            double den = t.in.links[k].capacityBps * span;
            bool hot = den > 0 && t.links[k].txBytes[side] * 8.0 / den >= 0.9;
            congested += (hot || t.links[k].drops[side] > 0) ? 1 : 0;
        }
    }
    uint64_t emerged = 0;
    int depth = 0;
    for (const EventSpec& e : t.in.events)
    {
        emerged += e.depth > 0 ? 1 : 0;
        depth = std::max(depth, e.depth);
    }
    std::ofstream o(dir + "/summary.json");
    o << "{\"format\": \"ani-run-summary/1\", \"flows\": " << flows
      << ", \"tx_packets\": " << attempts << ", \"rx_packets\": " << rx << ", \"rx_bytes\": " << rxBytes
      << ", \"delay_sum_s\": " << JsonNum(delaySum) << ", \"span_s\": " << JsonNum(span)
      << ", \"max_p99_delay_s\": " << JsonNum(maxP99) << ", \"no_route_packets\": " << noRoute
      << ", \"congested_links\": " << congested << ", \"emerged_failures\": " << emerged
      << ", \"cascade_depth\": " << depth << "}\n";
}

} // namespace

int
main(int argc, char* argv[])
{
    std::string inputPath = "input.txt";
    std::string outDir = ".";
    std::string tracePath;
    CommandLine cmd(__FILE__);
    cmd.AddValue("input", "data file written by ani (see README.md)", inputPath);
    cmd.AddValue("out", "folder for the result files", outDir);
    cmd.AddValue("trace", "binary packet trace to replay (written by ani; optional)", tracePath);
    cmd.Parse(argc, argv);

    // a binary heap of events: ~10 % less CPU than the default map on large runs; every scheduler
    // orders events by (time, insertion), so the run is the same
    ObjectFactory scheduler;
    scheduler.SetTypeId("ns3::HeapScheduler");
    Simulator::SetScheduler(scheduler);
    Twin twin;
    twin.in = ReadInput(inputPath);
    std::vector<std::vector<TracePacket>> trace;
    if (!tracePath.empty())
    {
        trace = ReadTrace(tracePath, twin.in);
    }
    RngSeedManager::SetSeed(1);
    RngSeedManager::SetRun(static_cast<uint64_t>(twin.in.Param("seed")));

    auto wallStart = std::chrono::steady_clock::now();
    BuildNetwork(twin);
    Measurement m;
    InstallTraffic(twin, m, trace);
    twin.eventLog.open(outDir + "/events.csv");
    twin.eventLog << "time_s,event,event_type,target,phase\n";
    twin.linkSeries.open(outDir + "/link_timeseries.csv");
    twin.linkSeries << "link,from,to,bin,t_start_s,tx_packets,tx_bytes,queue_packets,drops\n";
    twin.nodeSeries.open(outDir + "/node_timeseries.csv");
    twin.nodeSeries << "node,bin,t_start_s,cpu_utilisation,cpu_drops\n";
    twin.cascades.open(outDir + "/cascades.csv");
    twin.cascades << "time_s,event,event_type,target,origin,cause,depth\n";
    for (uint32_t i = 0; i < twin.in.events.size(); ++i)
    {
        const EventSpec& e = twin.in.events[i];
        twin.cascades << std::setprecision(12) << e.timeS << "," << i << "," << e.type << "," << e.label
                      << ",injected,-1,0\n";
    }
    ScheduleEvents(twin);
    ScheduleMitigations(twin);
    Simulator::Schedule(Seconds(twin.in.Param("interval_s")), &Monitor, &twin);

    FlowMonitorHelper fmHelper;
    fmHelper.SetMonitorAttribute("DelayBinWidth", DoubleValue(twin.in.Param("histogram_bin_s")));
    fmHelper.SetMonitorAttribute("JitterBinWidth", DoubleValue(twin.in.Param("histogram_bin_s")));
    Ptr<FlowMonitor> monitor = fmHelper.InstallAll();

    Simulator::Stop(Seconds(twin.in.Param("duration_s")));
    Simulator::Run();
    monitor->CheckForLostPackets();
    monitor->SerializeToXmlFile(outDir + "/flowmon.xml", true, false);
    WriteFlows(twin, m, outDir);
    WriteTimeseries(m, outDir);
    WriteProbes(m, outDir);
    WriteLinks(twin, outDir);
    WriteDrops(twin, outDir);
    WriteSummary(twin, m, outDir);
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wallStart).count();
    std::cout << "simulated_s " << Simulator::Now().GetSeconds() << "\n"
              << "events_processed " << Simulator::GetEventCount() << "\n"
              << "wall_s " << wall << "\n";
    twin.eventLog.close();
    twin.linkSeries.close();
    twin.nodeSeries.close();
    twin.cascades.close();
    Simulator::Destroy();
    return 0;
}
