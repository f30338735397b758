namespace OpenQwen2VL.Curation.Scoring;

/// <summary>
/// Which share of the shards this process scores: <c>--rank R --world W</c>, else a Slurm job array
/// (<c>SLURM_ARRAY_TASK_ID</c> from <c>SLURM_ARRAY_TASK_MIN</c>, over <c>SLURM_ARRAY_TASK_COUNT</c>), else MPI
/// (MPICH/Hydra's <c>PMI_RANK</c>/<c>PMI_SIZE</c>, Open MPI's <c>OMPI_COMM_WORLD_RANK</c>/<c>OMPI_COMM_WORLD_SIZE</c>),
/// else Slurm tasks (<c>SLURM_PROCID</c>/<c>SLURM_NTASKS</c>), else rank 0 of 1.
/// </summary>
public sealed record WorkerRank(int Rank, int World, string Source)
{
    public static WorkerRank Resolve(int? rank, int? world, Func<string, string?>? env = null)
    {
        env ??= Environment.GetEnvironmentVariable;
        if (rank is not null || world is not null)
        {
            if (rank is null || world is null) throw new ArgumentException("--rank and --world go together");
            return Checked(rank.Value, world.Value, "--rank/--world");
        }
        if (Int(env, "SLURM_ARRAY_TASK_ID") is int task && Int(env, "SLURM_ARRAY_TASK_COUNT") is int count)
            return Checked(task - (Int(env, "SLURM_ARRAY_TASK_MIN") ?? 0), count, "SLURM_ARRAY_TASK_ID/COUNT");
        if (Int(env, "PMI_RANK") is int pmiRank && Int(env, "PMI_SIZE") is int pmiSize) return Checked(pmiRank, pmiSize, "PMI_RANK/PMI_SIZE");
        if (Int(env, "OMPI_COMM_WORLD_RANK") is int oRank && Int(env, "OMPI_COMM_WORLD_SIZE") is int oSize)
            return Checked(oRank, oSize, "OMPI_COMM_WORLD_RANK/SIZE");
        if (Int(env, "SLURM_PROCID") is int proc && Int(env, "SLURM_NTASKS") is int tasks) return Checked(proc, tasks, "SLURM_PROCID/NTASKS");
        return new WorkerRank(0, 1, "single process");
    }

    private static WorkerRank Checked(int rank, int world, string source)
    {
        if (world < 1 || rank < 0 || rank >= world) throw new ArgumentException($"{source}: rank {rank} of {world} is not a rank (need 0 <= rank < world)");
        return new WorkerRank(rank, world, source);
    }

    private static int? Int(Func<string, string?> env, string name) =>
        int.TryParse(env(name), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int v) ? v : null;
}
