// ospf_failure/outputs.h - part of scenario.cc (included in this order: input.h, medium.h, measurement.h, routing.h, network.h, convergence.h, events.h, traffic.h, outputs.h).
//
// Outputs written at the end: flows.csv, timeseries.csv, event_probes.csv, events.csv,
// links.csv, link_timeseries.csv, node_timeseries.csv, cascades.csv, drops.csv, summary.json.
//
// Uses: input.h, medium.h, measurement.h, routing.h, network.h, convergence.h, events.h, traffic.h.

#pragma once

namespace
{

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

/// delay_histogram.csv: per flow, the non-empty bins of its packets' one-way delays
/// (histogram_bin_s wide, bin = floor(delay / width): FlowMonitor's delay histogram).
void
WriteDelayHistogram(const Measurement& m, const std::string& dir)
{
    std::ofstream o(dir + "/delay_histogram.csv");
    o << "flow,bin_start_s,bin_width_s,count\n";
    for (uint32_t f = 0; f < m.flows.size(); ++f)
    {
        for (const auto& [index, count] : m.flows[f].delayHist)
        {
            o << f << "," << Num(index * m.histogramBinS) << "," << Num(m.histogramBinS) << "," << count << "\n";
        }
    }
}

/// flows.csv, and the delay histograms beside it (WriteDelayHistogram).
void
WriteFlows(const Twin& t, const Measurement& m, const std::string& dir)
{
    WriteDelayHistogram(m, dir);
    std::ofstream o(dir + "/flows.csv");
    o << "flow,src,dst,src_addr,dst_addr,src_port,dst_port,rate_bps,packet_bytes,start_s,stop_s,"
         "tx_packets,tx_failed,rx_packets,rx_bytes,delay_sum_s,delay_min_s,delay_max_s,class,"
         "jitter_sum_s,dropped_packets\n";
    for (uint32_t f = 0; f < t.in.flows.size(); ++f)
    {
        const FlowSpec& fs = t.in.flows[f];
        const FlowStats& s = m.flows[f];
        o << f << "," << t.in.nodes[fs.src] << "," << t.in.nodes[fs.dst] << "," << t.loopback[fs.src]
          << "," << t.loopback[fs.dst] << "," << m.srcPorts[f] << "," << SINK_PORT << "," << Num(fs.rateBps)
          << "," << fs.packetBytes << "," << Num(fs.startS) << "," << Num(fs.stopS) << "," << s.tx
          << "," << s.txFailed << "," << s.rx << "," << s.rxBytes << "," << Num(s.delaySum) << ","
          << (s.rx ? Num(s.delayMin) : "") << "," << (s.rx ? Num(s.delayMax) : "") << "," << fs.kind
          << "," << Num(TimeStep(s.jitterSumSteps).GetSeconds()) << "," << s.ipDrops << "\n";
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
