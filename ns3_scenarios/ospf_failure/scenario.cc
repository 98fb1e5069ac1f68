// ani template "ospf_failure": a backbone under timed OSPF-like convergence.
//
// Self-contained ns-3 3.44 program. It reads every value it uses from a data
// file (--input, written by `ani` from validated values; see README.md for the
// format) and writes its results into --out:
//   flowmon.xml        FlowMonitor statistics with histograms
//   flows.csv          per application flow: offered load, sent, refused, received, delays
//   timeseries.csv     per flow and interval: sent / delivered by send time, received by receive time
//   event_probes.csv   per flow and probe time (the events' times): last delivery of a packet
//                      sent before, first delivery of a packet sent at or after
//   events.csv         what the twin did when (inject, detect, reconverge, restore)
//   links.csv          per link direction: transmitted packets and bytes, queue drops
//
// Routing: ns-3 global routing (Dijkstra over OSPF costs). Because it would
// reroute instantly, failures are applied in three timed steps: at the event
// the medium drops every packet; after detect_delay_s the interfaces go down;
// after spf_delay_s + fib_delay_s more, the routing tables are recomputed.
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
#include <fstream>
#include <iomanip>
#include <limits>
#include <map>
#include <sstream>
#include <string>
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
};

struct EventSpec
{
    double timeS;
    std::string type, targetKind;
    uint32_t target;
};

struct Input
{
    std::map<std::string, double> params;
    std::vector<std::string> nodes;
    std::vector<LinkSpec> links;
    std::vector<FlowSpec> flows;
    std::vector<EventSpec> events;
    std::vector<double> probes; // times at which delivery is probed (the events' times)

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
            std::string id;
            ok = static_cast<bool>(ls >> index >> id) && index == d.nodes.size();
            d.nodes.push_back(id);
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
                                   f.startS >> f.stopS) &&
                 index == d.flows.size() && f.src < d.nodes.size() && f.dst < d.nodes.size() &&
                 f.rateBps > 0 && f.packetBytes >= 12 && f.stopS > f.startS;
            d.flows.push_back(f);
        }
        else if (kind == "event")
        {
            EventSpec e;
            ok = static_cast<bool>(ls >> index >> e.timeS >> e.type >> e.targetKind >> e.target) &&
                 index == d.events.size() &&
                 ((e.targetKind == "link" && e.target < d.links.size()) ||
                  (e.targetKind == "node" && e.target < d.nodes.size()));
            d.events.push_back(e);
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

// ------------------------------------------------------ per-flow measurement

struct Bin
{
    uint64_t tx = 0, rxBySend = 0, rx = 0, rxBytes = 0;
    double delaySum = 0;
};

struct FlowStats
{
    uint64_t tx = 0, txFailed = 0, rx = 0, rxBytes = 0;
    double delaySum = 0, delayMin = std::numeric_limits<double>::infinity(), delayMax = 0;
    std::map<int64_t, Bin> bins;
    std::vector<double> lastRxBefore, firstSendAfter, firstRxAfter; // per event
};

struct Measurement
{
    double intervalS = 0.05;
    std::vector<double> eventTimes;
    std::vector<FlowStats> flows;

    Bin& At(uint32_t flow, double t)
    {
        return flows[flow].bins[static_cast<int64_t>(std::floor(t / intervalS))];
    }
};

/// Constant-bit-rate UDP sender bound to a fixed source address, so rerouting
/// never changes the flow's 5-tuple. Each packet carries a sequence number and
/// its send time (SeqTsHeader).
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
              double rateBps, uint32_t bytes)
        : m_m(m),
          m_flow(flow),
          m_local(local),
          m_remote(remote),
          m_port(port),
          m_bytes(bytes),
          m_gap(Seconds(bytes * 8.0 / rateBps))
    {
    }

  private:
    void StartApplication() override
    {
        m_socket = Socket::CreateSocket(GetNode(), UdpSocketFactory::GetTypeId());
        m_socket->Bind(InetSocketAddress(m_local, m_port));
        m_socket->Connect(InetSocketAddress(m_remote, m_port));
        m_routing = GetNode()->GetObject<Ipv4>()->GetRoutingProtocol();
        m_probe.SetSource(m_local);
        m_probe.SetDestination(m_remote);
        m_probe.SetProtocol(UdpL4Protocol::PROT_NUMBER);
        m_event = Simulator::ScheduleNow(&CbrSender::Send, this);
    }

    void StopApplication() override
    {
        Simulator::Cancel(m_event);
        if (m_socket)
        {
            m_socket->Close();
        }
    }

    void Send()
    {
        SeqTsHeader h;
        h.SetSeq(m_seq++);
        Ptr<Packet> p = Create<Packet>(m_bytes - h.GetSerializedSize());
        p->AddHeader(h);
        double now = Simulator::Now().GetSeconds();
        FlowStats& s = m_m->flows[m_flow];
        Socket::SocketErrno err;
        if (m_routing->RouteOutput(p, m_probe, nullptr, err) && m_socket->Send(p) >= 0)
        {
            ++s.tx;
            ++m_m->At(m_flow, now).tx;
        }
        else
        {
            ++s.txFailed;
        }
        m_event = Simulator::Schedule(m_gap, &CbrSender::Send, this);
    }

    Measurement* m_m;
    uint32_t m_flow;
    Ipv4Address m_local, m_remote;
    uint16_t m_port;
    uint32_t m_bytes;
    Ptr<Ipv4RoutingProtocol> m_routing;
    Ipv4Header m_probe;
    Time m_gap;
    uint32_t m_seq = 0;
    Ptr<Socket> m_socket;
    EventId m_event;
};

/// UDP sink of one flow: delay, loss by send interval, per-event delivery probes.
class FlowSink : public Application
{
  public:
    FlowSink(Measurement* m, uint32_t flow, uint16_t port)
        : m_m(m),
          m_flow(flow),
          m_port(port)
    {
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
        while ((p = socket->Recv()))
        {
            SeqTsHeader h;
            p->PeekHeader(h);
            Record(h.GetTs().GetSeconds(), Simulator::Now().GetSeconds(), p->GetSize());
        }
    }

    void Record(double sent, double now, uint32_t bytes)
    {
        FlowStats& s = m_m->flows[m_flow];
        double delay = now - sent;
        ++s.rx;
        s.rxBytes += bytes;
        s.delaySum += delay;
        s.delayMin = std::min(s.delayMin, delay);
        s.delayMax = std::max(s.delayMax, delay);
        ++m_m->At(m_flow, sent).rxBySend;
        Bin& b = m_m->At(m_flow, now);
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
    uint32_t m_flow;
    uint16_t m_port;
    Ptr<Socket> m_socket;
};

// ------------------------------------------------------------------ network

struct LinkState
{
    Ptr<PointToPointNetDevice> dev[2];
    uint32_t iface[2];
    uint64_t txPackets[2] = {0, 0}, txBytes[2] = {0, 0}, drops[2] = {0, 0};
};

struct Twin
{
    Input in;
    NodeContainer nodes;
    std::vector<LinkState> links;
    std::vector<Ipv4Address> loopback;
    std::vector<std::vector<uint32_t>> incident; // node -> link indices
    std::ofstream eventLog;
};

Ipv4Address
LoopbackAddress(uint32_t node)
{
    return Ipv4Address((10u << 24) | (255u << 16) | (node + 1));
}

/// A /32 "loopback" on a one-port broadcast segment: global routing advertises
/// it as a stub network, so the address stays reachable while any link is up.
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
}

void
CountDrop(LinkState* l, int side, Ptr<const Packet>)
{
    ++l->drops[side];
}

void
BuildNetwork(Twin& t)
{
    const Input& in = t.in;
    t.nodes.Create(in.nodes.size());
    InternetStackHelper stack;
    stack.Install(t.nodes);
    t.incident.resize(in.nodes.size());
    for (uint32_t n = 0; n < in.nodes.size(); ++n)
    {
        t.loopback.push_back(LoopbackAddress(n));
        AddLoopback(t.nodes.Get(n), t.loopback.back());
    }
    PointToPointHelper p2p;
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
            ipv4->SetMetric(st.iface[side], ls.cost);
            ipv4->SetUp(st.iface[side]);
            st.dev[side]->TraceConnectWithoutContext("PhyTxEnd", MakeBoundCallback(&CountTx, &st, side));
            st.dev[side]->GetQueue()->TraceConnectWithoutContext("Drop",
                                                                 MakeBoundCallback(&CountDrop, &st, side));
            t.incident[ends[side]].push_back(k);
        }
    }
    Ipv4GlobalRoutingHelper::PopulateRoutingTables();
}

// ------------------------------------------------------------------- events

void
LogEvent(Twin* t, uint32_t index, const std::string& phase)
{
    const EventSpec& e = t->in.events[index];
    const std::string& target =
        e.targetKind == "link" ? t->in.links[e.target].id : t->in.nodes[e.target];
    t->eventLog << std::setprecision(12) << Simulator::Now().GetSeconds() << "," << index << ","
                << e.type << "," << target << "," << phase << "\n";
}

void
SetMedium(Twin* t, uint32_t link, bool up)
{
    for (auto& dev : t->links[link].dev)
    {
        dev->SetReceiveErrorModel(up ? nullptr : CreateObject<LinkDownErrorModel>());
    }
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

/// Links an event acts on: the link itself, or every link of a router.
std::vector<uint32_t>
EventLinks(const Twin& t, const EventSpec& e)
{
    return e.targetKind == "link" ? std::vector<uint32_t>{e.target} : t.incident[e.target];
}

void
Reconverge(Twin* t, uint32_t index)
{
    Ipv4GlobalRoutingHelper::RecomputeRoutingTables();
    LogEvent(t, index, "reconverge");
}

void
Detect(Twin* t, uint32_t index, bool up)
{
    for (uint32_t l : EventLinks(*t, t->in.events[index]))
    {
        SetInterfaces(t, l, up);
    }
    LogEvent(t, index, "detect");
    Time spf = Seconds(t->in.Param("spf_delay_s") + t->in.Param("fib_delay_s"));
    Simulator::Schedule(spf, &Reconverge, t, index);
}

void
Inject(Twin* t, uint32_t index)
{
    const EventSpec& e = t->in.events[index];
    bool up = e.type == "link_restore" || e.type == "router_restore";
    for (uint32_t l : EventLinks(*t, e))
    {
        SetMedium(t, l, up);
    }
    LogEvent(t, index, up ? "restore" : "inject");
    Simulator::Schedule(Seconds(t->in.Param("detect_delay_s")), &Detect, t, index, up);
}

void
ScheduleEvents(Twin& t)
{
    for (uint32_t i = 0; i < t.in.events.size(); ++i)
    {
        const EventSpec& e = t.in.events[i];
        bool known = e.type == "fiber_link_failure" || e.type == "router_failure" ||
                     e.type == "link_restore" || e.type == "router_restore";
        if (!known)
        {
            std::cerr << "input: event " << i << ": this template cannot execute '" << e.type << "'\n";
            std::exit(2);
        }
        Simulator::Schedule(Seconds(e.timeS), &Inject, &t, i);
    }
}

// ------------------------------------------------------------------ traffic

void
InstallTraffic(Twin& t, Measurement& m)
{
    const Input& in = t.in;
    m.intervalS = in.Param("interval_s");
    m.eventTimes = in.probes;
    m.flows.resize(in.flows.size());
    Ptr<UniformRandomVariable> phase = CreateObject<UniformRandomVariable>();
    for (uint32_t f = 0; f < in.flows.size(); ++f)
    {
        const FlowSpec& fs = in.flows[f];
        FlowStats& s = m.flows[f];
        size_t nEvents = in.probes.size();
        s.lastRxBefore.assign(nEvents, std::numeric_limits<double>::quiet_NaN());
        s.firstSendAfter.assign(nEvents, std::numeric_limits<double>::quiet_NaN());
        s.firstRxAfter.assign(nEvents, std::numeric_limits<double>::quiet_NaN());
        uint16_t port = static_cast<uint16_t>(10000 + f);
        Ptr<FlowSink> sink = Create<FlowSink>(&m, f, port);
        t.nodes.Get(fs.dst)->AddApplication(sink);
        sink->SetStartTime(Seconds(0));
        double gap = fs.packetBytes * 8.0 / fs.rateBps;
        Ptr<CbrSender> src = Create<CbrSender>(&m, f, t.loopback[fs.src], t.loopback[fs.dst], port,
                                               fs.rateBps, fs.packetBytes);
        t.nodes.Get(fs.src)->AddApplication(src);
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
         "tx_packets,tx_failed,rx_packets,rx_bytes,delay_sum_s,delay_min_s,delay_max_s\n";
    for (uint32_t f = 0; f < t.in.flows.size(); ++f)
    {
        const FlowSpec& fs = t.in.flows[f];
        const FlowStats& s = m.flows[f];
        o << f << "," << t.in.nodes[fs.src] << "," << t.in.nodes[fs.dst] << "," << t.loopback[fs.src]
          << "," << t.loopback[fs.dst] << "," << 10000 + f << "," << 10000 + f << "," << Num(fs.rateBps)
          << "," << fs.packetBytes << "," << Num(fs.startS) << "," << Num(fs.stopS) << "," << s.tx
          << "," << s.txFailed << "," << s.rx << "," << s.rxBytes << "," << Num(s.delaySum) << ","
          << (s.rx ? Num(s.delayMin) : "") << "," << (s.rx ? Num(s.delayMax) : "") << "\n";
    }
}

void
WriteTimeseries(const Measurement& m, const std::string& dir)
{
    std::ofstream o(dir + "/timeseries.csv");
    o << "flow,bin,t_start_s,tx_packets,rx_by_send,rx_packets,rx_bytes,delay_sum_s\n";
    for (uint32_t f = 0; f < m.flows.size(); ++f)
    {
        for (const auto& [bin, b] : m.flows[f].bins)
        {
            o << f << "," << bin << "," << Num(bin * m.intervalS) << "," << b.tx << "," << b.rxBySend
              << "," << b.rx << "," << b.rxBytes << "," << Num(b.delaySum) << "\n";
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

} // namespace

int
main(int argc, char* argv[])
{
    std::string inputPath = "input.txt";
    std::string outDir = ".";
    CommandLine cmd(__FILE__);
    cmd.AddValue("input", "data file written by ani (see README.md)", inputPath);
    cmd.AddValue("out", "folder for the result files", outDir);
    cmd.Parse(argc, argv);

    Twin twin;
    twin.in = ReadInput(inputPath);
    RngSeedManager::SetSeed(1);
    RngSeedManager::SetRun(static_cast<uint64_t>(twin.in.Param("seed")));
    Config::SetDefault("ns3::Ipv4GlobalRouting::RandomEcmpRouting",
                       BooleanValue(twin.in.Param("ecmp") != 0));
    Config::SetDefault("ns3::Ipv4GlobalRouting::RespondToInterfaceEvents", BooleanValue(false));

    auto wallStart = std::chrono::steady_clock::now();
    BuildNetwork(twin);
    Measurement m;
    InstallTraffic(twin, m);
    twin.eventLog.open(outDir + "/events.csv");
    twin.eventLog << "time_s,event,event_type,target,phase\n";
    ScheduleEvents(twin);

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
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wallStart).count();
    std::cout << "simulated_s " << Simulator::Now().GetSeconds() << "\n"
              << "events_processed " << Simulator::GetEventCount() << "\n"
              << "wall_s " << wall << "\n";
    twin.eventLog.close();
    Simulator::Destroy();
    return 0;
}
