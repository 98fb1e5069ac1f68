// ospf_failure/traffic.h - part of scenario.cc (included in this order: input.h, medium.h, measurement.h, routing.h, network.h, convergence.h, events.h, traffic.h, outputs.h).
//
// Traffic: the demand, attack, probe and trace flows set up from the input, their ports,
// rates, start and stop times, and the one sink per node that receives them.
//
// Uses: input.h, medium.h, measurement.h, routing.h, network.h, convergence.h, events.h.

#pragma once

namespace
{

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
    t.measurement = &m;
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
        m.byKey[Measurement::FlowKey(t.loopback[fs.src], t.loopback[fs.dst], m.srcPorts[f])] = f;
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

} // namespace
