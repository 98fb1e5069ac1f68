// ospf_failure/measurement.h - part of scenario.cc (included in this order: input.h, medium.h, measurement.h, routing.h, network.h, convergence.h, events.h, traffic.h, outputs.h).
//
// Per-flow measurement: the CBR sender and the per-node sink of the template's own, with
// per-flow counters and binned time series (sent / refused / delivered / received) and the
// event probes (last delivery before, first delivery after each event time).
//
// Uses: input.h, medium.h.

#pragma once

namespace
{

struct Bin
{
    uint64_t tx = 0, txFailed = 0, rxBySend = 0, rx = 0, rxBytes = 0;
    double delaySum = 0;
};

struct FlowStats
{
    uint64_t tx = 0, txFailed = 0, rx = 0, rxBytes = 0;
    double delaySum = 0, delayMin = std::numeric_limits<double>::infinity(), delayMax = 0;
    // as FlowMonitor counts them (FlowMonitor::ReportLastRx, in integer time steps): the sum of
    // |delay(i) - delay(i-1)| over received packets in arrival order, and the last delay
    int64_t jitterSumSteps = 0, lastDelaySteps = 0;
    uint64_t ipDrops = 0; // packets IP or a device queue dropped (what FlowMonitor counts as drops)
    std::map<int64_t, Bin> bins;
    // the two bins used last (a flow sends and receives in time order, so nearly every access hits one)
    int64_t recentKey[2] = {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::min()};
    Bin* recentBin[2] = {nullptr, nullptr};
    int recentNext = 0;
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
    std::unordered_map<uint64_t, uint32_t> byKey; // FlowKey(src, dst, srcPort) -> flow

    static uint64_t FlowKey(Ipv4Address src, Ipv4Address dst, uint16_t srcPort)
    {
        return (uint64_t(src.Get()) << 32) | (uint64_t(dst.Get() & 0xffffu) << 16) | srcPort;
    }

    /// A dropped UDP packet (src, dst, srcPort) of a twin's flow counts against that flow.
    void CountDrop(Ipv4Address src, Ipv4Address dst, uint16_t srcPort)
    {
        auto it = byKey.find(FlowKey(src, dst, srcPort));
        if (it != byKey.end())
        {
            ++flows[it->second].ipDrops;
        }
    }

    Bin& At(uint32_t flow, double t)
    {
        FlowStats& s = flows[flow];
        int64_t key = static_cast<int64_t>(std::floor(t / intervalS));
        for (int i = 0; i < 2; ++i)
        {
            if (s.recentKey[i] == key)
            {
                return *s.recentBin[i];
            }
        }
        Bin& b = s.bins[key]; // std::map: the reference stays valid as bins are added
        s.recentKey[s.recentNext] = key;
        s.recentBin[s.recentNext] = &b;
        s.recentNext ^= 1;
        return b;
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
        if (Ptr<Ipv4Route> route = m_routing->RouteOutput(p, m_probe, nullptr, err))
        {
            m_udp->Send(p, m_local, m_remote, m_port, m_sinkPort, route); // IP takes this route as is
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
        uint32_t a = src.Get();
        if ((a & 0xffff0000u) == LOOPBACKS)
        {
            // the first flow from a router's loopback, found by a vector index (per packet)
            std::vector<First>& first = m_first;
            if (first.size() <= (a & 0xffffu))
            {
                first.resize((a & 0xffffu) + 1);
            }
            if (!first[a & 0xffffu].used || first[a & 0xffffu].port == srcPort) // as m_flows: the last wins
            {
                first[a & 0xffffu] = First{true, srcPort, flow};
            }
        }
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
            uint32_t a = peer.GetIpv4().Get();
            uint32_t flow;
            if ((a & 0xffff0000u) == LOOPBACKS && (a & 0xffffu) < m_first.size() && m_first[a & 0xffffu].used &&
                m_first[a & 0xffffu].port == peer.GetPort())
            {
                flow = m_first[a & 0xffffu].flow;
            }
            else
            {
                auto it = m_flows.find(Key(peer.GetIpv4(), peer.GetPort()));
                if (it == m_flows.end())
                {
                    continue; // not a flow of the twin's
                }
                flow = it->second;
            }
            SeqTsHeader h;
            p->PeekHeader(h);
            Record(flow, h.GetTs(), p->GetSize());
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
        Time delayTime = Simulator::Now() - sentAt;
        ++s.delayHist[static_cast<int64_t>(std::floor(delayTime.GetSeconds() / m_m->histogramBinS))];
        int64_t steps = delayTime.GetTimeStep();
        if (s.rx > 0)
        {
            s.jitterSumSteps += std::abs(s.lastDelaySteps - steps);
        }
        s.lastDelaySteps = steps;
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

    /// Routers' loopbacks (10.255.0.0/16, network.h's LoopbackAddress).
    static constexpr uint32_t LOOPBACKS = (10u << 24) | (255u << 16);

    struct First
    {
        bool used = false;
        uint16_t port = 0;
        uint32_t flow = 0;
    };

    Measurement* m_m;
    uint16_t m_port;
    Ptr<Socket> m_socket;
    std::unordered_map<uint64_t, uint32_t> m_flows; // Key(src, srcPort) -> flow
    std::vector<First> m_first;                     // by loopback host part: its first flow here
};

} // namespace
