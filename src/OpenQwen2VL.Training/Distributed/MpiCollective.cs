using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using OpenQwen2VL.Training.Distributed.Mpi;
using OpenQwen2VL.Training.Memory;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Training.Distributed;

/// <summary>
/// Data-parallel collectives over MPI (MPICH ABI, <see cref="MpichAbi"/>): one process per rank, started by
/// <c>mpiexec</c>/<c>mpirun</c> or Slurm's <c>srun --mpi=pmi2</c>. fp32 tensors travel in flat host buckets of
/// <see cref="BucketBytes"/> (two of them, so the next bucket is packed while the previous one is being reduced); GPU
/// tensors are staged through those host buckets (TorchSharp exposes no device pointer, so CUDA-aware MPI is reported
/// but not used; NCCL is the later GPU backend behind <see cref="ICollective"/>).
/// <para>
/// A collective never waits forever: MPI has no timeout of its own, so every call is the nonblocking MPI-3 form polled
/// with MPI_Test until done or until <see cref="Timeout"/> passes, when it throws a one-line <see cref="TrainingException"/>
/// naming this rank; the CLI then calls <see cref="Abort"/>, which ends every rank of the job. Polling in the calling
/// thread (rather than a watchdog thread calling MPI_Abort) keeps all MPI calls on one thread and lets the failure go
/// through the same one-line error path as any other; it spins like MPICH's own blocking wait does.
/// </para>
/// </summary>
public sealed class MpiCollective : ICollective, IDisposable
{
    const int ThreadMultiple = 3;
    readonly int _localComm;
    Tensor? _bucketA, _bucketB;
    bool _finalized;

    public int Rank { get; }
    public int WorldSize { get; }
    /// <summary>This rank's index among the ranks on its machine (its GPU: cuda:LocalRank).</summary>
    public int LocalRank { get; }
    /// <summary>Ranks on this machine.</summary>
    public int LocalSize { get; }
    /// <summary>Whether the MPI library says it takes CUDA device pointers (MPIX_Query_cuda_support).</summary>
    public bool CudaAware { get; }
    /// <summary>The longest a collective waits for the other ranks.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(300);
    /// <summary>Size of one flat fp32 bucket.</summary>
    public long BucketBytes { get; set; } = 25L << 20;
    /// <summary>Wall time spent inside all-reduce and all-gather calls (packing, transfer, unpacking), for throughput reports.</summary>
    public TimeSpan CommunicationTime => _communication.Elapsed;
    readonly Stopwatch _communication = new();

    /// <summary>True when this process was started as one rank of an MPI job (MPICH's hydra, Slurm's PMI2/PMIx).</summary>
    public static bool LaunchedAsRank() =>
        Env("PMI_RANK") is not null || Env("PMI_SIZE") is not null || Env("PMIX_RANK") is not null || Env("OMPI_COMM_WORLD_SIZE") is not null;

    static string? Env(string name) => System.Environment.GetEnvironmentVariable(name);

    MpiCollective()
    {
        if (Env("OMPI_COMM_WORLD_SIZE") is not null)
            throw new TrainingException("started by Open MPI's mpirun, but oqvl speaks the MPICH ABI (libmpich.so.12): launch with mpiexec.mpich (apt-get install mpich) or srun --mpi=pmi2");
        if (!MpichAbi.Available())
            throw new TrainingException($"started as an MPI rank, but {MpichAbi.Library} cannot be loaded: install MPICH (apt-get install mpich libmpich-dev)");
        Check(MpichAbi.MPI_Initialized(out int ready), "MPI_Initialized");
        if (ready == 0) Check(MpichAbi.MPI_Init_thread(IntPtr.Zero, IntPtr.Zero, ThreadMultiple, out _), "MPI_Init_thread");
        Check(MpichAbi.MPI_Comm_set_errhandler(MpichAbi.CommWorld, MpichAbi.ErrorsReturn), "MPI_Comm_set_errhandler");
        Check(MpichAbi.MPI_Comm_rank(MpichAbi.CommWorld, out int rank), "MPI_Comm_rank");
        Check(MpichAbi.MPI_Comm_size(MpichAbi.CommWorld, out int size), "MPI_Comm_size");
        Rank = rank; WorldSize = size;
        Check(MpichAbi.MPI_Comm_split_type(MpichAbi.CommWorld, MpichAbi.CommTypeShared, rank, MpichAbi.InfoNull, out _localComm), "MPI_Comm_split_type");
        Check(MpichAbi.MPI_Comm_rank(_localComm, out int localRank), "MPI_Comm_rank");
        Check(MpichAbi.MPI_Comm_size(_localComm, out int localSize), "MPI_Comm_size");
        LocalRank = localRank; LocalSize = localSize;
        CudaAware = MpichAbi.CudaAware();
    }

    /// <summary>Joins the MPI job this process was started in (<see cref="LaunchedAsRank"/>).</summary>
    public static MpiCollective Join() => new();

    public void AllReduceSum(IReadOnlyList<Tensor> tensors)
    {
        _communication.Start();
        try
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var fp32 = tensors.Where(t => t.dtype == ScalarType.Float32).ToList();
            Bucketed(fp32, (buffer, count) => Start("all-reduce", (out int r) =>
                MpichAbi.MPI_Iallreduce(MpichAbi.InPlace, CpuTensorPointer.Of(buffer), count, MpichAbi.Float, MpichAbi.OpSum, MpichAbi.CommWorld, out r)));
            foreach (var t in tensors.Where(t => t.dtype != ScalarType.Float32))
                Whole(t, host => Start("all-reduce", (out int r) =>
                    MpichAbi.MPI_Iallreduce(MpichAbi.InPlace, CpuTensorPointer.Of(host), checked((int)host.numel()), Datatype(host.dtype), MpichAbi.OpSum, MpichAbi.CommWorld, out r)));
        }
        finally { _communication.Stop(); }
    }

    public void Broadcast(IReadOnlyList<Tensor> tensors, int root)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(root);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(root, WorldSize);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        Bucketed(tensors.Where(t => t.dtype == ScalarType.Float32).ToList(), (buffer, count) => Start("broadcast", (out int r) =>
            MpichAbi.MPI_Ibcast(CpuTensorPointer.Of(buffer), count, MpichAbi.Float, root, MpichAbi.CommWorld, out r)));
        foreach (var t in tensors.Where(t => t.dtype != ScalarType.Float32))
            Whole(t, host => Start("broadcast", (out int r) =>
                MpichAbi.MPI_Ibcast(CpuTensorPointer.Of(host), checked((int)(host.numel() * host.ElementSize)), MpichAbi.Byte, root, MpichAbi.CommWorld, out r)));
    }

    public void AllGather(Tensor local, Tensor gathered)
    {
        if (local.dtype != ScalarType.Float32 || gathered.dtype != ScalarType.Float32) throw new ArgumentException("all-gather takes fp32 tensors");
        if (gathered.numel() != local.numel() * WorldSize) throw new ArgumentException($"all-gather: {gathered.numel()} elements for {WorldSize} x {local.numel()}");
        _communication.Start();
        try
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var send = HostContiguous(local);
            var receive = HostContiguous(gathered);
            Wait(Start("all-gather", (out int r) => MpichAbi.MPI_Iallgather(CpuTensorPointer.Of(send), checked((int)send.numel()), MpichAbi.Float,
                CpuTensorPointer.Of(receive), checked((int)send.numel()), MpichAbi.Float, MpichAbi.CommWorld, out r)), "all-gather");
            if (!ReferenceEquals(receive, gathered)) gathered.copy_(receive.view(gathered.shape));
        }
        finally { _communication.Stop(); }
    }

    public IReadOnlyList<string> AllGatherText(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var length = new long[] { bytes.Length };
        WithPinned(length, p => Wait(Start("all-gather", (out int r) =>
            MpichAbi.MPI_Iallreduce(MpichAbi.InPlace, p, 1, MpichAbi.Int64, MpichAbi.OpMax, MpichAbi.CommWorld, out r)), "all-gather"));
        int slot = checked((int)length[0] + sizeof(int));
        var send = new byte[slot];
        BitConverter.TryWriteBytes(send, bytes.Length);
        bytes.CopyTo(send, sizeof(int));
        var all = new byte[checked(slot * WorldSize)];
        WithPinned(send, s => WithPinned(all, a => Wait(Start("all-gather", (out int r) =>
            MpichAbi.MPI_Iallgather(s, slot, MpichAbi.Byte, a, slot, MpichAbi.Byte, MpichAbi.CommWorld, out r)), "all-gather")));
        return Enumerable.Range(0, WorldSize)
            .Select(i => Encoding.UTF8.GetString(all, i * slot + sizeof(int), BitConverter.ToInt32(all, i * slot))).ToList();
    }

    public void Barrier() => Wait(Start("barrier", (out int r) => MpichAbi.MPI_Ibarrier(MpichAbi.CommWorld, out r)), "barrier");

    /// <summary>Ends every rank of the job (MPI_Abort): the way out of a failed rank that others may be waiting for.</summary>
    public void Abort(int exitCode) => MpichAbi.MPI_Abort(MpichAbi.CommWorld, exitCode);

    public void Dispose()
    {
        _bucketA?.Dispose(); _bucketB?.Dispose();
        if (_finalized) return;
        _finalized = true;
        if (MpichAbi.MPI_Finalized(out int done) == MpichAbi.Success && done == 0) MpichAbi.MPI_Finalize();
    }

    delegate int StartCall(out int request);

    int Start(string what, StartCall call)
    {
        Check(call(out int request), what);
        return request;
    }

    /// <summary>Polls the request until it completes; past <see cref="Timeout"/> the job is stuck: one line naming this rank.</summary>
    void Wait(int request, string what)
    {
        var clock = Stopwatch.StartNew();
        for (long polls = 0; ; polls++)
        {
            Check(MpichAbi.MPI_Test(ref request, out int done, MpichAbi.StatusIgnore), what);
            if (done != 0) return;
            if ((polls & 1023) != 0) continue;
            if (clock.Elapsed > Timeout)
                throw new TrainingException($"rank {Rank} of {WorldSize}: a {what} waited {Timeout.TotalSeconds:0} s for the other ranks (collective_timeout_s): " +
                    "another rank failed, stalled or was killed; the job stops, the last complete checkpoint is kept");
            if (clock.ElapsedMilliseconds > 100) Thread.Yield();   // a long wait (another rank still computing): let others run
        }
    }

    /// <summary>
    /// The fp32 tensors packed into flat host buckets, each bucket handed to <paramref name="start"/> (which starts the
    /// nonblocking collective on it, in place), then unpacked. The next bucket is packed while the previous one is in flight.
    /// </summary>
    void Bucketed(IReadOnlyList<Tensor> tensors, Func<Tensor, int, int> start)
    {
        if (tensors.Count == 0) return;
        var flats = tensors.Select(t => t.is_contiguous() ? t.view(-1) : throw new ArgumentException("collectives take contiguous tensors")).ToList();
        long capacity = FlatBuckets.Fp32Capacity(BucketBytes);
        var plan = FlatBuckets.Plan(flats.Select(f => f.numel()).ToList(), capacity);
        long largest = plan.Max(b => b.Sum(p => p.Length));
        _bucketA = Buffer(_bucketA, largest);
        _bucketB = plan.Count > 1 ? Buffer(_bucketB, largest) : _bucketB;
        (int Request, int Index, Tensor Buffer)? inFlight = null;
        for (int b = 0; b < plan.Count; b++)
        {
            var buffer = b % 2 == 0 ? _bucketA : _bucketB!;
            long length = plan[b].Sum(p => p.Length);
            foreach (var p in plan[b])
            {
                using var into = buffer.narrow(0, p.BucketOffset, p.Length);
                using var from = flats[p.Tensor].narrow(0, p.TensorOffset, p.Length);
                into.copy_(from);
            }
            int request = start(buffer, checked((int)length));
            if (inFlight is { } prev) Finish(prev.Request, plan[prev.Index], prev.Buffer);
            inFlight = (request, b, buffer);
        }
        Finish(inFlight!.Value.Request, plan[inFlight.Value.Index], inFlight.Value.Buffer);

        void Finish(int request, IReadOnlyList<BucketPiece> pieces, Tensor buffer)
        {
            Wait(request, "collective");
            foreach (var p in pieces)
            {
                using var into = flats[p.Tensor].narrow(0, p.TensorOffset, p.Length);
                using var from = buffer.narrow(0, p.BucketOffset, p.Length);
                into.copy_(from);
            }
        }
    }

    static Tensor Buffer(Tensor? current, long elements)
    {
        if (current is not null && current.numel() >= elements) return current;
        current?.Dispose();
        return empty(elements, dtype: ScalarType.Float32).DetachFromDisposeScope();
    }

    /// <summary>One non-fp32 tensor through a contiguous host copy (or itself when it is one).</summary>
    void Whole(Tensor t, Func<Tensor, int> start)
    {
        var host = HostContiguous(t);
        Wait(start(host), "collective");
        if (!ReferenceEquals(host, t)) t.copy_(host);
    }

    static Tensor HostContiguous(Tensor t) => t.device_type == DeviceType.CPU && t.is_contiguous() ? t : t.cpu().contiguous();

    static int Datatype(ScalarType type) => type switch
    {
        ScalarType.Float32 => MpichAbi.Float,
        ScalarType.Float64 => MpichAbi.Double,
        ScalarType.Int64 => MpichAbi.Int64,
        _ => throw new ArgumentException($"no MPI sum for {type}"),
    };

    static void WithPinned<T>(T[] array, Action<IntPtr> use) where T : unmanaged
    {
        var handle = GCHandle.Alloc(array, GCHandleType.Pinned);
        try { use(handle.AddrOfPinnedObject()); }
        finally { handle.Free(); }
    }

    void Check(int code, string what)
    {
        if (code != MpichAbi.Success) throw new TrainingException($"rank {Rank} of {WorldSize}: MPI {what} failed: {MpichAbi.ErrorText(code)}");
    }
}
