@testable import Codegen

/// `/proc/cpuinfo` and sysfs cache text from three machines, abridged to the first processor
/// (plus the start of the second, which the parser must ignore).
enum HostFixtures {
  static let intelAVX2CPUInfo = """
    processor\t: 0
    vendor_id\t: GenuineIntel
    cpu family\t: 6
    model\t\t: 158
    model name\t: Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz
    cpu cores\t: 6
    flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc pni pclmulqdq ssse3 sdbg fma cx16 xtpr pdcm pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand lahf_lm abm 3dnowprefetch fsgsbase bmi1 hle avx2 smep bmi2 erms invpcid rtm mpx rdseed adx smap clflushopt intel_pt xsaveopt xsavec xgetbv1 xsaves
    bogomips\t: 6399.96

    processor\t: 1
    model name\t: something else
    flags\t\t: fpu avx512f avx512bw avx512dq avx512vl

    """

  static let intelAVX2Caches = [
    HostDetection.CacheEntry(level: "1\n", type: "Data\n", size: "32K\n"),
    .init(level: "1\n", type: "Instruction\n", size: "32K\n"),
    .init(level: "2\n", type: "Unified\n", size: "256K\n"),
    .init(level: "3\n", type: "Unified\n", size: "12288K\n"),
  ]

  static let zen5CPUInfo = """
    processor\t: 0
    vendor_id\t: AuthenticAMD
    cpu family\t: 26
    model\t\t: 68
    model name\t: AMD Ryzen 9 9950X 16-Core Processor
    flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl nonstop_tsc cpuid extd_apicid aperfmperf rapl pni pclmulqdq monitor ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt aes xsave avx f16c rdrand lahf_lm cmp_legacy svm extapic cr8_legacy abm sse4a misalignsse 3dnowprefetch osvw ibs skinit wdt tce topoext perfctr_core perfctr_nb bpext perfctr_llc mwaitx cpb cat_l3 cdp_l3 hw_pstate ssbd mba perfmon_v2 ibrs ibpb stibp ibrs_enhanced vmmcall fsgsbase tsc_adjust bmi1 avx2 smep bmi2 erms invpcid cqm rdt_a avx512f avx512dq rdseed adx smap avx512ifma clflushopt clwb avx512cd sha_ni avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves cqm_llc cqm_occup_llc cqm_mbm_total cqm_mbm_local user_shstk avx_vnni avx512_bf16 clzero irperf xsaveerptr rdpru wbnoinvd cppc arat npt lbrv svm_lock nrip_save tsc_scale vmcb_clean flushbyasid decodeassists pausefilter pfthreshold avic v_vmsave_vmload vgif x2avic v_spec_ctrl vnmi avx512vbmi umip pku ospke avx512_vbmi2 gfni vaes vpclmulqdq avx512_vnni avx512_bitalg avx512_vpopcntdq rdpid bus_lock_detect movdiri movdir64b overflow_recov succor smca fsrm avx512_vp2intersect flush_l1d
    bogomips\t: 8583.53

    """

  static let zen5Caches = [
    HostDetection.CacheEntry(level: "1", type: "Data", size: "48K"),
    .init(level: "1", type: "Instruction", size: "32K"),
    .init(level: "2", type: "Unified", size: "1024K"),
    .init(level: "3", type: "Unified", size: "32768K"),
  ]

  static let graviton2CPUInfo = """
    processor\t: 0
    BogoMIPS\t: 243.75
    Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs
    CPU implementer\t: 0x41
    CPU architecture: 8
    CPU variant\t: 0x3
    CPU part\t: 0xd0c
    CPU revision\t: 1

    processor\t: 1
    BogoMIPS\t: 243.75

    """

  static let graviton2Caches = [
    HostDetection.CacheEntry(level: "1", type: "Data", size: "64K"),
    .init(level: "1", type: "Instruction", size: "64K"),
    .init(level: "2", type: "Unified", size: "1024K"),
    .init(level: "3", type: "Unified", size: "32768K"),
  ]
}
