// Clears the parameters of one gemm_impl.h instance (see gemm.c).
#undef RK_ISA
#undef RK_VL
#undef RK_NREGS
#undef RK_MR
#undef RK_NR
#undef RK_KC
#undef RK_NB
#undef RK_MB
#undef RK_SW1
#undef RK_SW2
#undef RK_SW3
#undef RK_SW4
#undef RK_DOT_M
#undef RK_STREAM_M
#undef RK_ROWS_R
