using OpenQwen2VL.Data.Images;

namespace OpenQwen2VL.Tests.Images;

/// <summary>
/// The textbook bicubic sample (a = -0.5, 4x4 taps at the mapped centre, edge pixels clamped, kernel NOT stretched
/// when shrinking): what a resize without antialias does. The parity test shows it misses PIL's output.
/// </summary>
internal static class PlainBicubic
{
    public static byte[] Resize(RgbImage src, int w, int h)
    {
        var dst = new byte[3 * w * h];
        double sx = (double)src.Width / w, sy = (double)src.Height / h;
        Span<double> wx = stackalloc double[4], wy = stackalloc double[4];
        for (int y = 0; y < h; y++)
        {
            double cy = (y + 0.5) * sy - 0.5;
            int y0 = (int)Math.Floor(cy);
            for (int t = 0; t < 4; t++) wy[t] = ResampleCoefficients.Bicubic(cy - (y0 - 1 + t));
            for (int x = 0; x < w; x++)
            {
                double cx = (x + 0.5) * sx - 0.5;
                int x0 = (int)Math.Floor(cx);
                for (int t = 0; t < 4; t++) wx[t] = ResampleCoefficients.Bicubic(cx - (x0 - 1 + t));
                for (int c = 0; c < 3; c++)
                {
                    double acc = 0;
                    for (int j = 0; j < 4; j++)
                    {
                        int yy = Math.Clamp(y0 - 1 + j, 0, src.Height - 1);
                        for (int i = 0; i < 4; i++)
                        {
                            int xx = Math.Clamp(x0 - 1 + i, 0, src.Width - 1);
                            acc += wy[j] * wx[i] * src.Pixels[3 * (yy * src.Width + xx) + c];
                        }
                    }
                    dst[3 * (y * w + x) + c] = (byte)Math.Clamp(Math.Round(acc), 0, 255);
                }
            }
        }
        return dst;
    }
}
