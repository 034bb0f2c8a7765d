# synscope trace: the BPF programs (src/live/trace/*.bpf.c) are compiled from source at build time
# with clang, against a vmlinux.h generated from the build machine's kernel BTF, and turned into
# libbpf skeleton headers with `bpftool gen skeleton`. Nothing prebuilt is committed.
# Needs: clang (≥ 11), bpftool, libbpf-dev, /sys/kernel/btf/vmlinux (scripts/setup.sh installs the packages).
# CO-RE relocations make the objects independent of the build kernel's layout: vmlinux.h only
# supplies type names; the running kernel's BTF decides the offsets when the tracer loads.

set(SYNSCOPE_VMLINUX_BTF "/sys/kernel/btf/vmlinux" CACHE FILEPATH "kernel BTF that vmlinux.h is generated from")
find_program(SYNSCOPE_BPF_CLANG NAMES clang clang-19 clang-18 clang-17 clang-16 clang-15 clang-14 REQUIRED)
find_program(SYNSCOPE_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)
pkg_check_modules(LIBBPF REQUIRED IMPORTED_TARGET libbpf)
if(NOT EXISTS "${SYNSCOPE_VMLINUX_BTF}")
  message(FATAL_ERROR "synscope trace needs kernel BTF at ${SYNSCOPE_VMLINUX_BTF} to generate vmlinux.h "
                      "(CONFIG_DEBUG_INFO_BTF=y), or set SYNSCOPE_VMLINUX_BTF to a BTF file")
endif()

set(SYNSCOPE_BPF_OUT ${CMAKE_CURRENT_BINARY_DIR}/generated/bpf)
file(MAKE_DIRECTORY ${SYNSCOPE_BPF_OUT})
add_custom_command(OUTPUT ${SYNSCOPE_BPF_OUT}/vmlinux.h
  COMMAND ${SYNSCOPE_BPFTOOL} btf dump file ${SYNSCOPE_VMLINUX_BTF} format c > ${SYNSCOPE_BPF_OUT}/vmlinux.h.tmp
  COMMAND ${CMAKE_COMMAND} -E rename ${SYNSCOPE_BPF_OUT}/vmlinux.h.tmp ${SYNSCOPE_BPF_OUT}/vmlinux.h
  COMMENT "Generating vmlinux.h from ${SYNSCOPE_VMLINUX_BTF}")

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  set(SYNSCOPE_BPF_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(SYNSCOPE_BPF_ARCH arm64)
else()
  set(SYNSCOPE_BPF_ARCH ${CMAKE_SYSTEM_PROCESSOR})
endif()

# One skeleton per program file: <name>.bpf.c → <name>.bpf.o → <name>.skel.h (struct <name>).
file(GLOB SYNSCOPE_BPF_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/src/live/trace/*.bpf.c)
set(SYNSCOPE_BPF_SKELETONS)
foreach(src ${SYNSCOPE_BPF_SOURCES})
  get_filename_component(name ${src} NAME)
  string(REGEX REPLACE "\\.bpf\\.c$" "" name ${name})
  set(obj ${SYNSCOPE_BPF_OUT}/${name}.bpf.o)
  set(skel ${SYNSCOPE_BPF_OUT}/${name}.skel.h)
  add_custom_command(OUTPUT ${obj}
    COMMAND ${SYNSCOPE_BPF_CLANG} -g -O2 -target bpf -D__TARGET_ARCH_${SYNSCOPE_BPF_ARCH} -Wall
            -I${SYNSCOPE_BPF_OUT} -I${CMAKE_CURRENT_SOURCE_DIR}/src/live/trace -c ${src} -o ${obj}
    DEPENDS ${src} ${SYNSCOPE_BPF_OUT}/vmlinux.h ${CMAKE_CURRENT_SOURCE_DIR}/src/live/trace/syn_trace_event.h
    COMMENT "Compiling BPF program ${name}.bpf.c")
  add_custom_command(OUTPUT ${skel}
    COMMAND ${SYNSCOPE_BPFTOOL} gen skeleton ${obj} name ${name} > ${skel}.tmp
    COMMAND ${CMAKE_COMMAND} -E rename ${skel}.tmp ${skel}
    DEPENDS ${obj}
    COMMENT "Generating BPF skeleton ${name}.skel.h")
  list(APPEND SYNSCOPE_BPF_SKELETONS ${skel})
endforeach()
add_custom_target(synscope_bpf_skeletons DEPENDS ${SYNSCOPE_BPF_SKELETONS})
add_dependencies(synscope_lib synscope_bpf_skeletons)
target_include_directories(synscope_lib PRIVATE ${SYNSCOPE_BPF_OUT})
target_link_libraries(synscope_lib PUBLIC PkgConfig::LIBBPF)
