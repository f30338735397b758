using System.Runtime.InteropServices;

namespace OpenQwen2VL.Training.Distributed.Mpi;

/// <summary>
/// The few MPI calls training needs, bound straight to the MPICH ABI (libmpich.so.12: MPICH, Intel MPI, MVAPICH, Cray
/// MPICH and Slurm's `srun --mpi=pmi2` launches of them), whose handles are plain integers.
/// <para>
/// Why a thin P/Invoke layer and not MPI.NET (NuGet): (1) the trainer hands MPI the data pointers of torch tensors and
/// host buckets; MPI.NET takes managed arrays, so every bucket would be copied tensor -> float[] -> MPI -> float[] ->
/// tensor (two extra copies of 25 MB per bucket), while the MPICH call underneath is the same: measured on this 2-core
/// machine under load (load average ~22), a 25 MB 2-rank all-reduce took 70 ms through this layer (bench data-parallel)
/// and 65-70 ms as MPI_Iallreduce+MPI_Test from C (141 ms as blocking MPI_Allreduce from C), i.e. the layer adds nothing
/// measurable over C; MPI.NET's 18.4 ms in shared/notes/mpi-on-linux.md was on an idle machine
/// (not comparable), and its array copies would come on top; (2) a collective that never waits forever needs the nonblocking
/// MPI-3 collectives (MPI_Iallreduce/MPI_Iallgather/MPI_Ibcast/MPI_Ibarrier) polled with MPI_Test against a deadline
/// (MPI.NET's blocking Allreduce would need a watchdog thread calling MPI_Abort instead); (3) MPI.NET binds msmpi.dll and needs a DllImport resolver to reach libmpich
/// anyway, and it cannot speak Open MPI's ABI either (there handles are addresses of globals: a later backend would
/// read them with NativeLibrary.GetExport; see docs/distributed-training.md).
/// </para>
/// </summary>
internal static class MpichAbi
{
    public const string Library = "libmpich.so.12";

    // Handles and constants of MPICH's mpi.h (4.0).
    public const int CommWorld = 0x44000000;
    public const int Float = 0x4c00040a;
    public const int Double = 0x4c00080b;
    public const int Int64 = 0x4c00083a;
    public const int Byte = 0x4c00010d;
    public const int OpSum = 0x58000003;
    public const int OpMax = 0x58000001;
    public const int InfoNull = 0x1c000000;
    public const int ErrorsReturn = 0x54000001;
    public const int CommTypeShared = 1;
    public const int ThreadFunneled = 1;
    public const int Success = 0;
    public static readonly IntPtr InPlace = new(-1);
    public static readonly IntPtr StatusIgnore = new(1);

    [DllImport(Library)] public static extern int MPI_Initialized(out int flag);
    [DllImport(Library)] public static extern int MPI_Finalized(out int flag);
    [DllImport(Library)] public static extern int MPI_Init_thread(IntPtr argc, IntPtr argv, int required, out int provided);
    [DllImport(Library)] public static extern int MPI_Finalize();
    [DllImport(Library)] public static extern int MPI_Abort(int comm, int errorCode);
    [DllImport(Library)] public static extern int MPI_Comm_rank(int comm, out int rank);
    [DllImport(Library)] public static extern int MPI_Comm_size(int comm, out int size);
    [DllImport(Library)] public static extern int MPI_Comm_split_type(int comm, int splitType, int key, int info, out int newComm);
    [DllImport(Library)] public static extern int MPI_Comm_set_errhandler(int comm, int errhandler);
    [DllImport(Library)] public static extern int MPI_Iallreduce(IntPtr sendBuffer, IntPtr receiveBuffer, int count, int datatype, int op, int comm, out int request);
    [DllImport(Library)] public static extern int MPI_Iallgather(IntPtr sendBuffer, int sendCount, int sendType, IntPtr receiveBuffer, int receiveCount, int receiveType, int comm, out int request);
    [DllImport(Library)] public static extern int MPI_Ibcast(IntPtr buffer, int count, int datatype, int root, int comm, out int request);
    [DllImport(Library)] public static extern int MPI_Ibarrier(int comm, out int request);
    [DllImport(Library)] public static extern int MPI_Test(ref int request, out int flag, IntPtr status);
    [DllImport(Library)] public static extern int MPI_Error_string(int errorCode, byte[] text, out int length);

    /// <summary>MPICH 4's query for a CUDA-aware build (absent from older MPICH: then not CUDA-aware).</summary>
    public static bool CudaAware()
    {
        if (!NativeLibrary.TryLoad(Library, out var lib) || !NativeLibrary.TryGetExport(lib, "MPIX_Query_cuda_support", out var fn)) return false;
        return Marshal.GetDelegateForFunctionPointer<QueryCudaSupport>(fn)() != 0;
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate int QueryCudaSupport();

    /// <summary>True when libmpich can be loaded on this machine.</summary>
    public static bool Available() => NativeLibrary.TryLoad(Library, out _);

    public static string ErrorText(int code)
    {
        var text = new byte[512];
        return MPI_Error_string(code, text, out int n) == Success ? System.Text.Encoding.ASCII.GetString(text, 0, Math.Clamp(n, 0, text.Length)) : $"MPI error {code}";
    }
}
