using System.Text.Json;
using System.Text.Json.Nodes;
using OpenQwen2VL.Data.Formats;

namespace OpenQwen2VL.Data.Checkpoints;

/// <summary>The non-tensor part of a checkpoint (trainer_state.json).</summary>
public sealed record TrainerState
{
    /// <summary>Optimiser steps completed (= the scheduler's step).</summary>
    public int Step { get; init; }
    public required JsonNode DataPosition { get; init; }
    /// <summary>libtorch CPU generator state.</summary>
    public required byte[] CpuRngState { get; init; }
    public int NonFiniteSkippedTotal { get; init; }
    public int NonFiniteInRow { get; init; }
    public double ElapsedSeconds { get; init; }
    /// <summary>Ranks of the run that wrote it; with more than one, <see cref="DataPosition"/> holds each rank's position.</summary>
    public int WorldSize { get; init; } = 1;
    /// <summary>1 when the optimizer state is sharded over the ranks (one file per rank), 0 when one file holds it all.</summary>
    public int ZeroStage { get; init; }

    static readonly JsonSerializerOptions Options = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true };

    public const string FileName = "trainer_state.json";

    public void Save(string dir) => File.WriteAllText(Path.Combine(dir, FileName), JsonSerializer.Serialize(this, Options));

    /// <summary>The file as text, refused in one line when it is no regular file or far too large for a trainer state.</summary>
    private static string ReadText(string path) => BoundedFile.ReadAllText(path, BoundedFile.SmallJsonMaxBytes, "a trainer state");

    public static TrainerState Load(string dir) =>
        JsonSerializer.Deserialize<TrainerState>(ReadText(Path.Combine(dir, FileName)), Options)
        ?? throw new InvalidDataException($"{dir}: empty {FileName}");

    /// <summary>
    /// Reads the state of the checkpoint folder of step <paramref name="folderStep"/> and checks it; returns null and
    /// the problem (one phrase) when it is missing, unreadable or out of range.
    /// </summary>
    public static TrainerState? TryLoad(string dir, int folderStep, int maxSteps, out string? problem)
    {
        problem = null;
        string path = Path.Combine(dir, FileName);
        if (!File.Exists(path)) { problem = $"{FileName} is missing"; return null; }
        TrainerState? state;
        try { state = JsonSerializer.Deserialize<TrainerState>(ReadText(path), Options); }
        catch (Exception e) when (e is InvalidDataException or JsonException or NotSupportedException or InvalidOperationException or FormatException)
        {
            problem = $"{FileName} is not a trainer state ({e.Message.Split('\n')[0]})";
            return null;
        }
        problem = state switch
        {
            null => $"{FileName} is empty",
            { Step: < 0 } s => $"{FileName} step {s.Step} is negative",
            var s when s.Step > maxSteps => $"{FileName} step {s.Step} is beyond max_steps {maxSteps}",
            var s when s.Step != folderStep => $"{FileName} step {s.Step} does not match the folder's step {folderStep}",
            { DataPosition: null } => $"{FileName} has no data_position",
            { CpuRngState: null or { Length: 0 } } => $"{FileName} has no cpu_rng_state",
            { NonFiniteInRow: < 0 } or { NonFiniteSkippedTotal: < 0 } => $"{FileName} has a negative non-finite count",
            var s when !double.IsFinite(s.ElapsedSeconds) || s.ElapsedSeconds < 0 => $"{FileName} elapsed_seconds {s.ElapsedSeconds} is not a duration",
            _ => null,
        };
        return problem is null ? state : null;
    }
}
