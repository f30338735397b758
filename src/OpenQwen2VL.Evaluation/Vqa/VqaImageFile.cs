using OpenQwen2VL.Data.Prompts;

namespace OpenQwen2VL.Evaluation.Vqa;

/// <summary>
/// Reads one image a VQA prompt names, the way the SFT reader does (<see cref="SftImageRoot"/>): only a regular file
/// with data is opened (a FIFO would block the evaluation forever, <c>/dev/zero</c> never ends), and the read is
/// bounded by <see cref="MaxBytes"/>. A refusal is an <see cref="UnreadableImageException"/>, which the evaluation
/// counts as a skip of that question.
/// </summary>
public static class VqaImageFile
{
    /// <summary>64 MiB, the SFT reader's cap: far above any real photo (the decoder refuses larger images anyway).</summary>
    public const long MaxBytes = SftImageRoot.DefaultMaxImageBytes;

    /// <summary>The file's bytes, or <see cref="UnreadableImageException"/> with the reason (e.g. <c>not_a_regular_file</c>).</summary>
    public static byte[] Read(string path, long maxBytes = MaxBytes)
    {
        // Dataset image paths are absolute or relative to the working folder: there is no root to stay under here.
        var reader = new SftImageRoot("/", allowOutsideRoot: true, maxBytes);
        string full;
        try { full = Path.GetFullPath(path); }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        { throw new UnreadableImageException(path, UnreadableImageException.UnreadableFile); }
        if (reader.TryResolve(full, out var resolved, out var reason) && reader.TryRead(resolved, out var bytes, out reason))
            return bytes;
        throw new UnreadableImageException(path, Reason(reason));
    }

    /// <summary>The SFT reason without its "image_" prefix: the evaluation adds its own (image_not_a_regular_file, image_too_large, ...).</summary>
    private static string Reason(string? sftReason) => sftReason switch
    {
        null or SftImageRoot.UnreadableImage => UnreadableImageException.UnreadableFile,
        _ when sftReason.StartsWith("image_", StringComparison.Ordinal) => sftReason["image_".Length..],
        _ => sftReason,
    };
}
