// pcap_count_loop FILE: the bare libpcap peer of `synscope analyze` in bench/analyze_compare.sh.
// Opens FILE ("-" = stdin) with pcap_open_offline and calls pcap_next_ex in a loop that only counts
// packets, then prints the count. Nothing else: no decoding, no allocation per packet. Written in
// the C subset and linked with libpcap only (see CMakeLists.txt), so that its process start-up is
// as cheap as possible too.
#include <pcap/pcap.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: pcap_count_loop FILE|-\n");
    return 2;
  }
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(argv[1], err);
  if (!p) {
    std::fprintf(stderr, "pcap_count_loop: %s\n", err);
    return 2;
  }
  unsigned long long packets = 0;
  struct pcap_pkthdr* h;
  const u_char* data;
  int rc;
  while ((rc = pcap_next_ex(p, &h, &data)) == 1) ++packets;
  if (rc == PCAP_ERROR) {
    std::fprintf(stderr, "pcap_count_loop: %s\n", pcap_geterr(p));
    pcap_close(p);
    return 1;
  }
  pcap_close(p);
  std::printf("%llu\n", packets);
  return 0;
}
