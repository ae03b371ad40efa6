// Clears the parameters of one recurrent_impl.h instance (see recurrent.c).
#undef RK_ISA
#undef RK_VL
#undef RK_NREGS
#undef RK_ROWS1
#undef RK_SUB1
#undef RK_ROWS3
#undef RK_SUB3
#undef RK_ROWS4
#undef RK_SUB4
#undef RK_QROWS1
#undef RK_QROWS3
#undef RK_QROWS4
#undef RK_STEP_KC
#undef RK_SCALEF
#undef RK_TILE_UNROLL
#undef RK_PAIRS4
#undef RK_BACKWARD_DEPTH
