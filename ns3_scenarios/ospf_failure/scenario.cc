// ani template "ospf_failure": a backbone under timed OSPF-like convergence.
//
// Self-contained ns-3 3.44 program. Its scalar parameters are ns-3 CommandLine
// arguments (`./scenario --PrintHelp` lists them with their defaults; the table is in
// input.h); the network, flows and events come from a data file (--input, written by `ani`
// from validated values; see README.md for the format). It writes its results into --out:
//   flows.csv          per application flow: offered load, sent, refused, received, delays,
//                      jitter and drops as FlowMonitor counts them (no FlowMonitor: the sink counts)
//   delay_histogram.csv per flow, its packets' one-way delays in histogram_bin_s bins
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
// The model is in headers a researcher can read one at a time, in this order:
//   input.h        the scalar parameters (kParameters: the command line), the input file, the packet trace
//   medium.h       failed, gray and overloaded links and routers
//   measurement.h  the template's CBR sender, per-node sink and per-flow counters
//   routing.h      AniRouting: per-packet forwarding over equal-cost next hops
//   network.h      the twin's state (Twin) and taking links and routers down and up
//   convergence.h  LSA flooding, SPF with hold and back-off, FIB installation
//   events.h       events at their timestamps, mitigations, emerged failures (cascades)
//   traffic.h      demand, attack, probe and trace flows
//   outputs.h      the result files
// `ani` inlines them into one self-contained scenario.cc in every run folder (with #line
// marks, so a compiler message names the header and its line).
//
// Build:  g++ -O2 -std=c++20 scenario.cc -I$NS3/include -L$NS3/lib64 -lns3.44-... (see run.sh)
// Run:    ./scenario --input=input.txt --out=. [--detect_delay_s=0.5 --seed=3 ...]

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

#include "input.h"
#include "medium.h"
#include "measurement.h"
#include "routing.h"
#include "network.h"
#include "convergence.h"
#include "events.h"
#include "traffic.h"
#include "outputs.h"

int
main(int argc, char* argv[])
{
    std::string inputPath = "input.txt";
    std::string outDir = ".";
    std::string tracePath = "none"; // a default SEM can read back from --PrintHelp and pass on
    ParamValues params;
    CommandLine cmd(__FILE__);
    cmd.Usage("A backbone under timed OSPF-like convergence (ani template ospf_failure).\n"
              "--input names the network, flows and events (written by ani); the other options are the\n"
              "scalar parameters, each with its default; out-of-range values are refused.");
    cmd.AddValue("input", "data file written by ani: nodes, links, flows, events (see README.md)", inputPath);
    cmd.AddValue("out", "folder for the result files", outDir);
    cmd.AddValue("trace", "binary packet trace to replay (written by ani; none: no trace)", tracePath);
    AddParameters(cmd, params);
    cmd.Parse(argc, argv);

    // std::priority_queue of events: less CPU than ns-3's HeapScheduler (and its default map) on
    // large runs; every scheduler orders events by (time, insertion), so the run is the same
    ObjectFactory scheduler;
    scheduler.SetTypeId("ns3::PriorityQueueScheduler");
    Simulator::SetScheduler(scheduler);
    Twin twin;
    twin.in = ReadInput(inputPath);
    SetRunNumber(params);
    twin.in.params = params.values;
    std::vector<std::vector<TracePacket>> trace;
    if (!tracePath.empty() && tracePath != "none")
    {
        trace = ReadTrace(tracePath, twin.in);
    }

    auto wallStart = std::chrono::steady_clock::now();
    BuildNetwork(twin);
    InitRouting(twin);
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

    Simulator::Stop(Seconds(twin.in.durationS));
    Simulator::Run();
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
