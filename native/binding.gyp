# The native addon and the CPU shims. `npm run build` runs node-gyp here through scripts/build.mjs, against
# the Node headers of the Node that runs it; everything lands in build/Release/:
#   multirank_native.node  the addon (loads NCCL/CUDA or HCCL/ACL at run time with dlopen; the native
#                          TCPStore server)
#   libnccl_shim.so        NCCL + CUDA runtime ABI on the CPU (point MULTIRANK_NCCL_LIBRARY and
#                          MULTIRANK_CUDART_LIBRARY at it)
#   libhccl_shim.so        HCCL + ACL ABI on the CPU (MULTIRANK_HCCL_LIBRARY, MULTIRANK_ACL_LIBRARY)
#   multirank_mpi.node     the MPI binding, linked against the MPI library found at build time
#                          (scripts/mpi-flags.mjs); left out where there is none, so the rest still builds
{
  'variables': {
    'with_mpi%': '<!(node scripts/mpi-flags.mjs found)',
  },
  'target_defaults': {
    'cflags': ['-O2', '-Wall', '-Wextra', '-fvisibility=hidden', '-ffp-contract=off'],
    'ldflags': ['-pthread'],
  },
  'targets': [
    {
      'target_name': 'multirank_native',
      'sources': ['src/addon.cc', 'src/library.cc', 'src/ops.cc', 'src/memory.cc', 'src/comm.cc', 'src/bench.cc',
                  'src/store-server.cc'],
      'include_dirs': ["<!(node -p \"require('node-addon-api').include_dir\")"],
      # NODE_ADDON_API_CPP_EXCEPTIONS_ALL: a C++ exception that a function does not catch itself
      # (std::bad_alloc) reaches JS as an Error, not std::terminate (which would end the whole process,
      # every rank in it).
      'defines': ['NAPI_VERSION=8', 'NAPI_CPP_EXCEPTIONS', 'NODE_ADDON_API_CPP_EXCEPTIONS_ALL'],
      'cflags!': ['-fno-exceptions'],
      'cflags_cc!': ['-fno-exceptions'],
      'cflags_cc': ['-std=c++17', '-fexceptions'],
      'libraries': ['-ldl'],
    },
    {
      'target_name': 'nccl_shim',
      'type': 'shared_library',
      'product_dir': '<(PRODUCT_DIR)',
      'product_prefix': 'lib',
      'product_extension': 'so',
      'sources': ['shim/nccl.c', 'shim/comm.c', 'shim/collective.c', 'shim/stream.c', 'shim/reduce.c'],
      'cflags_c': ['-std=c11', '-D_GNU_SOURCE'],
      'libraries': ['-lm'],
    },
    {
      'target_name': 'hccl_shim',
      'type': 'shared_library',
      'product_dir': '<(PRODUCT_DIR)',
      'product_prefix': 'lib',
      'product_extension': 'so',
      'sources': ['shim/hccl.c', 'shim/comm.c', 'shim/collective.c', 'shim/stream.c', 'shim/reduce.c'],
      'cflags_c': ['-std=c11', '-D_GNU_SOURCE'],
      'libraries': ['-lm'],
    },
  ],
  'conditions': [
    ['with_mpi==1', {
      'targets': [
        {
          'target_name': 'multirank_mpi',
          'sources': ['src/mpi-binding.cc', 'src/mpi-comms.cc'],
          'include_dirs': ["<!(node -p \"require('node-addon-api').include_dir\")", '<!@(node scripts/mpi-flags.mjs include)'],
          # MPI's C API only: its deprecated C++ bindings would need libmpi_cxx.
          'defines': ['NAPI_VERSION=8', 'NAPI_CPP_EXCEPTIONS', 'NODE_ADDON_API_CPP_EXCEPTIONS_ALL',
                      'OMPI_SKIP_MPICXX=1', 'MPICH_SKIP_MPICXX=1'],
          'cflags!': ['-fno-exceptions'],
          'cflags_cc!': ['-fno-exceptions'],
          'cflags_cc': ['-std=c++17', '-fexceptions'],
          'libraries': ['<!@(node scripts/mpi-flags.mjs link)'],
        },
      ],
    }],
  ],
}
